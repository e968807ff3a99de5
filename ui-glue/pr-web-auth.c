/* pr-web-auth.c: password hashes, sessions, tokens, lockout. */
#include "config.h"

#include "pr-web-auth.h"

#include <string.h>

#include <gio/gio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* OWASP's 2023 advice for PBKDF2-HMAC-SHA256 is 600 000 iterations; a
 * login costs about 0.3 s on this class of machine, once per session. */
#define PBKDF2_ITERATIONS 600000
#define SALT_BYTES 16
#define HASH_BYTES 32
#define SESSION_IDLE_US (G_GINT64_CONSTANT (2) * 3600 * G_USEC_PER_SEC)
#define SESSION_MAX_US (G_GINT64_CONSTANT (12) * 3600 * G_USEC_PER_SEC)
#define LOCKOUT_FAILURES 10
#define LOCKOUT_WINDOW_US (G_GINT64_CONSTANT (600) * G_USEC_PER_SEC)

typedef struct {
  char *user;
  PrWebRole role;
  gint64 created_us;
  gint64 seen_us;
} Session;

typedef struct {
  guint failures;
  gint64 first_us;
} Failures;

struct _PrWebAuth {
  GPtrArray *users;             /* PrWebAccount* (copies) */
  GPtrArray *tokens;
  GHashTable *sessions;         /* id -> Session* */
  GHashTable *failures;         /* remote address -> Failures* */
};

const char *
pr_web_role_to_string (PrWebRole role)
{
  return role == PR_WEB_ROLE_ADMIN ? "admin" : role == PR_WEB_ROLE_RADIOLOGIST ? "radiologist" : "none";
}

PrWebRole
pr_web_role_from_string (const char *text)
{
  if (g_strcmp0 (text, "admin") == 0)
    return PR_WEB_ROLE_ADMIN;
  if (g_strcmp0 (text, "radiologist") == 0)
    return PR_WEB_ROLE_RADIOLOGIST;
  return PR_WEB_ROLE_NONE;
}

PrWebAccount *
pr_web_account_new (const char *name, PrWebRole role, const char *secret_hash)
{
  PrWebAccount *a = g_new0 (PrWebAccount, 1);
  a->name = g_strdup (name);
  a->role = role;
  a->secret_hash = g_strdup (secret_hash);
  return a;
}

void
pr_web_account_free (PrWebAccount *a)
{
  if (a == NULL)
    return;
  g_free (a->name);
  g_free (a->secret_hash);
  g_free (a);
}

void
pr_web_caller_free (PrWebCaller *c)
{
  if (c == NULL)
    return;
  g_free (c->user);
  g_free (c);
}

static PrWebCaller *
caller_new (const char *user, PrWebRole role, gboolean by_token)
{
  PrWebCaller *c = g_new0 (PrWebCaller, 1);
  c->user = g_strdup (user);
  c->role = role;
  c->by_token = by_token;
  return c;
}

static void
session_free (Session *s)
{
  g_free (s->user);
  g_free (s);
}

PrWebAuth *
pr_web_auth_new (void)
{
  PrWebAuth *auth = g_new0 (PrWebAuth, 1);
  auth->users = g_ptr_array_new_with_free_func ((GDestroyNotify) pr_web_account_free);
  auth->tokens = g_ptr_array_new_with_free_func ((GDestroyNotify) pr_web_account_free);
  auth->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) session_free);
  auth->failures = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return auth;
}

void
pr_web_auth_free (PrWebAuth *auth)
{
  if (auth == NULL)
    return;
  g_ptr_array_unref (auth->users);
  g_ptr_array_unref (auth->tokens);
  g_hash_table_unref (auth->sessions);
  g_hash_table_unref (auth->failures);
  g_free (auth);
}

static const PrWebAccount *
find_account (GPtrArray *accounts, const char *name)
{
  for (guint i = 0; name != NULL && i < accounts->len; i++)
    if (strcmp (((PrWebAccount *) accounts->pdata[i])->name, name) == 0)
      return accounts->pdata[i];
  return NULL;
}

static void
copy_accounts (GPtrArray *into, GPtrArray *from)
{
  g_ptr_array_set_size (into, 0);
  for (guint i = 0; from != NULL && i < from->len; i++)
    {
      const PrWebAccount *a = from->pdata[i];
      g_ptr_array_add (into, pr_web_account_new (a->name, a->role, a->secret_hash));
    }
}

void
pr_web_auth_set_accounts (PrWebAuth *auth, GPtrArray *users, GPtrArray *tokens)
{
  copy_accounts (auth->users, users);
  copy_accounts (auth->tokens, tokens);
  /* A removed user, or one whose role changed, logs in again. */
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, auth->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const Session *s = value;
      const PrWebAccount *a = find_account (auth->users, s->user);
      if (a == NULL || a->role != s->role)
        g_hash_table_iter_remove (&iter);
    }
}

/* ---- secrets ------------------------------------------------------------------------- */

char *
pr_web_random_secret (guint bytes)
{
  g_autofree guchar *raw = g_malloc (bytes);
  if (RAND_bytes (raw, (int) bytes) != 1)
    g_error ("the system has no randomness to give (RAND_bytes failed)");
  char *text = g_base64_encode (raw, bytes);
  /* URL- and cookie-safe: base64url without padding. */
  for (char *p = text; *p; p++)
    *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
  char *pad = strchr (text, '=');
  if (pad)
    *pad = '\0';
  return text;
}

static gboolean
pbkdf2 (const char *password, const guchar *salt, gsize salt_length, guint iterations, guchar *out, gsize length)
{
  return PKCS5_PBKDF2_HMAC (password, (int) strlen (password), salt, (int) salt_length, (int) iterations,
                            EVP_sha256 (), (int) length, out) == 1;
}

char *
pr_web_password_hash (const char *password)
{
  guchar salt[SALT_BYTES], hash[HASH_BYTES];
  if (RAND_bytes (salt, sizeof salt) != 1 || !pbkdf2 (password, salt, sizeof salt, PBKDF2_ITERATIONS, hash, sizeof hash))
    g_error ("cannot hash a password (OpenSSL failed)");
  g_autofree char *salt_text = g_base64_encode (salt, sizeof salt);
  g_autofree char *hash_text = g_base64_encode (hash, sizeof hash);
  return g_strdup_printf ("pbkdf2-sha256$%u$%s$%s", PBKDF2_ITERATIONS, salt_text, hash_text);
}

gboolean
pr_web_password_verify (const char *password, const char *stored)
{
  if (password == NULL || stored == NULL)
    return FALSE;
  g_auto (GStrv) parts = g_strsplit (stored, "$", -1);
  if (g_strv_length (parts) != 4 || strcmp (parts[0], "pbkdf2-sha256") != 0)
    return FALSE;
  guint64 iterations = g_ascii_strtoull (parts[1], NULL, 10);
  gsize salt_length = 0, hash_length = 0;
  g_autofree guchar *salt = g_base64_decode (parts[2], &salt_length);
  g_autofree guchar *expected = g_base64_decode (parts[3], &hash_length);
  if (iterations < 1000 || iterations > 10000000 || salt_length < 8 || hash_length != HASH_BYTES)
    return FALSE;
  guchar actual[HASH_BYTES];
  if (!pbkdf2 (password, salt, salt_length, (guint) iterations, actual, sizeof actual))
    return FALSE;
  return CRYPTO_memcmp (actual, expected, HASH_BYTES) == 0;
}

char *
pr_web_token_hash (const char *secret)
{
  g_autofree char *hex = g_compute_checksum_for_string (G_CHECKSUM_SHA256, secret, -1);
  return g_strconcat ("sha256$", hex, NULL);
}

/* ---- logging in ------------------------------------------------------------------------- */

static gboolean
locked_out (PrWebAuth *auth, const char *remote, gint64 now)
{
  Failures *f = g_hash_table_lookup (auth->failures, remote);
  if (f != NULL && now - f->first_us > LOCKOUT_WINDOW_US)
    {
      g_hash_table_remove (auth->failures, remote);
      return FALSE;
    }
  return f != NULL && f->failures >= LOCKOUT_FAILURES;
}

static void
note_failure (PrWebAuth *auth, const char *remote, gint64 now)
{
  Failures *f = g_hash_table_lookup (auth->failures, remote);
  if (f == NULL)
    {
      f = g_new0 (Failures, 1);
      f->first_us = now;
      g_hash_table_insert (auth->failures, g_strdup (remote), f);
    }
  f->failures++;
}

/* An unknown user's password is still hashed, against this, so that
 * timing does not tell who exists. */
static const char dummy_hash[] = "pbkdf2-sha256$600000$AAAAAAAAAAAAAAAAAAAAAA==$"
                                 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

char *
pr_web_auth_begin_login (PrWebAuth *auth, const char *user, const char *remote, GError **error)
{
  if (locked_out (auth, remote ? remote : "?", g_get_monotonic_time ()))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                           "too many failed logins from this address; try again in a few minutes");
      return NULL;
    }
  const PrWebAccount *account = find_account (auth->users, user);
  return g_strdup (account ? account->secret_hash : dummy_hash);
}

PrWebCaller *
pr_web_auth_end_login (PrWebAuth *auth, const char *user, gboolean password_ok, const char *remote, char **session,
                       GError **error)
{
  const char *from = remote ? remote : "?";
  gint64 now = g_get_monotonic_time ();
  const PrWebAccount *account = find_account (auth->users, user);
  if (!password_ok || account == NULL)
    {
      note_failure (auth, from, now);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "wrong user name or password");
      return NULL;
    }
  g_hash_table_remove (auth->failures, from);
  Session *s = g_new0 (Session, 1);
  s->user = g_strdup (account->name);
  s->role = account->role;
  s->created_us = s->seen_us = now;
  *session = pr_web_random_secret (32);
  g_hash_table_insert (auth->sessions, g_strdup (*session), s);
  return caller_new (account->name, account->role, FALSE);
}

PrWebCaller *
pr_web_auth_login (PrWebAuth *auth, const char *user, const char *password, const char *remote, char **session,
                   GError **error)
{
  g_autofree char *hash = pr_web_auth_begin_login (auth, user, remote, error);
  if (hash == NULL)
    return NULL;
  gboolean ok = pr_web_password_verify (password, hash);
  return pr_web_auth_end_login (auth, user, ok, remote, session, error);
}

void
pr_web_auth_logout (PrWebAuth *auth, const char *session)
{
  if (session != NULL)
    g_hash_table_remove (auth->sessions, session);
}

PrWebCaller *
pr_web_auth_check (PrWebAuth *auth, const char *session, const char *bearer)
{
  if (bearer != NULL && *bearer)
    {
      g_autofree char *hash = pr_web_token_hash (bearer);
      for (guint i = 0; i < auth->tokens->len; i++)
        {
          const PrWebAccount *t = auth->tokens->pdata[i];
          if (strlen (t->secret_hash) == strlen (hash) && CRYPTO_memcmp (t->secret_hash, hash, strlen (hash)) == 0)
            return caller_new (t->name, t->role, TRUE);
        }
      return NULL;
    }
  Session *s = session ? g_hash_table_lookup (auth->sessions, session) : NULL;
  if (s == NULL)
    return NULL;
  gint64 now = g_get_monotonic_time ();
  if (now - s->seen_us > SESSION_IDLE_US || now - s->created_us > SESSION_MAX_US)
    {
      g_hash_table_remove (auth->sessions, session);
      return NULL;
    }
  s->seen_us = now;
  return caller_new (s->user, s->role, FALSE);
}
