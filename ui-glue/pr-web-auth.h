/* pr-web-auth.h: who may use the web UI and the REST API, and as what.
 *
 * Two roles: radiologist (read everything, give feedback) and admin (also
 * operate queues and analyzers, read the audit trail). People log in with
 * a user name and password (stored as PBKDF2-HMAC-SHA256 hashes, never in
 * clear) and get a session cookie: random, HttpOnly, SameSite=Strict,
 * Secure over TLS, ending after 2 hours idle or 12 hours in all. Programs
 * (Prometheus, scripts) send "Authorization: Bearer TOKEN" with a token
 * whose SHA-256 the configuration holds. Ten failed logins from one address
 * within ten minutes lock that address out for the rest of them.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  PR_WEB_ROLE_NONE = 0,
  PR_WEB_ROLE_RADIOLOGIST = 1,
  PR_WEB_ROLE_ADMIN = 2,
} PrWebRole;

const char *pr_web_role_to_string (PrWebRole role);
/* PR_WEB_ROLE_NONE when @text names no role. */
PrWebRole pr_web_role_from_string (const char *text);

/* An account: a user with a password hash, or an API token with the hash of its secret. */
typedef struct {
  char *name;
  PrWebRole role;
  char *secret_hash;            /* pbkdf2-sha256$ITER$SALT$HASH for users, sha256$HEX for tokens */
} PrWebAccount;

PrWebAccount *pr_web_account_new (const char *name, PrWebRole role, const char *secret_hash);
void pr_web_account_free (PrWebAccount *account);

/* The caller of a request, once authenticated. */
typedef struct {
  char *user;
  PrWebRole role;
  gboolean by_token;            /* a program with a bearer token, not a browser session */
} PrWebCaller;

void pr_web_caller_free (PrWebCaller *caller);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrWebCaller, pr_web_caller_free)

typedef struct _PrWebAuth PrWebAuth;

PrWebAuth *pr_web_auth_new (void);
void pr_web_auth_free (PrWebAuth *auth);

/* Replaces the accounts (at start and on reload); sessions of users who are
 * gone or whose role changed end. @users and @tokens: (element-type PrWebAccount) (transfer none). */
void pr_web_auth_set_accounts (PrWebAuth *auth, GPtrArray *users, GPtrArray *tokens);

/**
 * pr_web_auth_login:
 * @remote: the client's address, for the lockout
 * @session: (out) (transfer full): the new session's id, for the cookie
 *
 * Returns: (transfer full) (nullable): the caller, or NULL with @error:
 * G_IO_ERROR_PERMISSION_DENIED (wrong name or password, the same message
 * for both) or G_IO_ERROR_BUSY (locked out for now).
 */
PrWebCaller *pr_web_auth_login (PrWebAuth *auth, const char *user, const char *password, const char *remote,
                                char **session, GError **error);

/* The same in two halves, so that the slow hash can run off the main loop:
 * begin returns the stored hash to check the password against (NULL with
 * @error when locked out); end records the outcome. */
char *pr_web_auth_begin_login (PrWebAuth *auth, const char *user, const char *remote, GError **error);
PrWebCaller *pr_web_auth_end_login (PrWebAuth *auth, const char *user, gboolean password_ok, const char *remote,
                                    char **session, GError **error);

void pr_web_auth_logout (PrWebAuth *auth, const char *session);

/**
 * pr_web_auth_check:
 * @session: (nullable): the session cookie's value
 * @bearer: (nullable): the bearer token
 *
 * Returns: (transfer full) (nullable): who is calling, or NULL.
 */
PrWebCaller *pr_web_auth_check (PrWebAuth *auth, const char *session, const char *bearer);

/* Returns: (transfer full): a PBKDF2-HMAC-SHA256 hash of @password (fresh salt). */
char *pr_web_password_hash (const char *password);

/* Whether @password matches @hash, in constant time. */
gboolean pr_web_password_verify (const char *password, const char *hash);

/* Returns: (transfer full): "sha256$HEX" of a token's secret. */
char *pr_web_token_hash (const char *secret);

/* Returns: (transfer full): a random secret (a password or token), URL-safe. */
char *pr_web_random_secret (guint bytes);

G_END_DECLS
