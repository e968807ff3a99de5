/* pr-command-passwd.c: `preread passwd`, accounts for the web UI and REST API.
 *
 * The configuration holds only hashes; this command turns a password (read
 * from the terminal without echo, or from standard input for scripts) or a
 * fresh random token into the <user> or <token> line to paste into <web>.
 */
#include "config.h"

#include "pr-commands.h"

#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <glib.h>

#include "ui-glue/pr-web-auth.h"

#define MIN_PASSWORD_LENGTH 10

/* Reads one line from standard input, without echo on a terminal.
 * Returns: (transfer full) (nullable): the line without its newline. */
static char *
read_secret (const char *prompt)
{
  gboolean tty = isatty (STDIN_FILENO);
  struct termios saved, quiet;
  if (tty)
    {
      fprintf (stderr, "%s", prompt);
      fflush (stderr);
      tcgetattr (STDIN_FILENO, &saved);
      quiet = saved;
      quiet.c_lflag &= ~(tcflag_t) ECHO;
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet);
    }
  char line[1024];
  char *got = fgets (line, sizeof line, stdin);
  if (tty)
    {
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved);
      fprintf (stderr, "\n");
    }
  if (got == NULL)
    return NULL;
  line[strcspn (line, "\r\n")] = '\0';
  char *copy = g_strdup (line);
  memset (line, 0, sizeof line);
  return copy;
}

/* The configuration's shape for names: [a-z0-9][a-z0-9._-]{0,63}. */
static gboolean
valid_name (const char *name)
{
  if (name == NULL || strlen (name) == 0 || strlen (name) > 64)
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!(g_ascii_islower (*p) || g_ascii_isdigit (*p) || (p > name && strchr ("._-", *p) != NULL)))
      return FALSE;
  return TRUE;
}

static int
make_token (const char *name, PrWebRole role)
{
  g_autofree char *secret = pr_web_random_secret (32);
  g_autofree char *hash = pr_web_token_hash (secret);
  fprintf (stderr, "The token (shown only now; programs send it as \"Authorization: Bearer TOKEN\"):\n");
  printf ("%s\n", secret);
  fprintf (stderr, "Add to <web> in the configuration:\n");
  printf ("<token name=\"%s\" role=\"%s\" hash=\"%s\"/>\n", name, pr_web_role_to_string (role), hash);
  return 0;
}

static int
make_user (const char *name, PrWebRole role)
{
  gboolean tty = isatty (STDIN_FILENO);
  g_autofree char *password = read_secret ("Password: ");
  if (password == NULL)
    {
      g_printerr ("preread passwd: no password given\n");
      return 1;
    }
  if (strlen (password) < MIN_PASSWORD_LENGTH)
    {
      g_printerr ("preread passwd: a password needs at least %d characters\n", MIN_PASSWORD_LENGTH);
      return 1;
    }
  if (tty)
    {
      g_autofree char *again = read_secret ("Again: ");
      if (again == NULL || strcmp (again, password) != 0)
        {
          g_printerr ("preread passwd: the passwords differ\n");
          return 1;
        }
    }
  g_autofree char *hash = pr_web_password_hash (password);
  memset (password, 0, strlen (password));
  if (tty)
    fprintf (stderr, "Add to <web> in the configuration:\n");
  printf ("<user name=\"%s\" role=\"%s\" password-hash=\"%s\"/>\n", name, pr_web_role_to_string (role), hash);
  return 0;
}

int
pr_command_passwd (int argc, char **argv)
{
  g_autofree char *role_name = NULL;
  gboolean token = FALSE;
  g_auto (GStrv) rest = NULL;
  GOptionEntry entries[] = {
    { "role", 0, 0, G_OPTION_ARG_STRING, &role_name, "radiologist (the default) or admin", "ROLE" },
    { "token", 0, 0, G_OPTION_ARG_NONE, &token, "Make an API token for a program instead of a password", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, "NAME" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("NAME - an account for the web UI and REST API");
  g_option_context_set_summary (
    context, "Reads a password (without echo on a terminal, else one line of standard input) and prints the\n"
             "<user> line for the <web> part of the configuration, with a PBKDF2-SHA256 hash of it.\n"
             "With --token, makes a random API token instead: prints the token once and its <token> line.");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("preread passwd: %s\n", error->message);
      return 2;
    }
  if (rest == NULL || rest[0] == NULL || rest[1] != NULL || !valid_name (rest[0]))
    {
      g_printerr ("preread passwd: give one NAME (lower-case letters, digits, \".\", \"_\", \"-\"; up to 64)\n");
      return 2;
    }
  PrWebRole role = pr_web_role_from_string (role_name ? role_name : "radiologist");
  if (role == PR_WEB_ROLE_NONE)
    {
      g_printerr ("preread passwd: the role is radiologist or admin, not \"%s\"\n", role_name);
      return 2;
    }
  return token ? make_token (rest[0], role) : make_user (rest[0], role);
}
