/*
 * cli.h - the administrative commands of the citybrain program.
 *
 * Each takes the arguments after its command word and returns the process
 * exit status (0 ok, 1 failure, 2 usage).  Errors go to stderr and name the
 * argument at fault.  All accept the configuration sources of config.h
 * (--config FILE, CITYBRAIN_* variables, --data DIR, ...).
 */
#ifndef CB_CLI_H
#define CB_CLI_H

/* citybrain serve: runs the server until SIGTERM or SIGINT. */
int cli_serve(int argc, char **argv);
/* citybrain token create|list|revoke. */
int cli_token(int argc, char **argv);
/* citybrain department create|list. */
int cli_department(int argc, char **argv);

/* citybrain login-link: a one-time browser login link for a new token
 * of the role (session.h). */
int cli_login_link(int argc, char **argv);

/* citybrain load: posts a district's files to a running server, and
 * optionally streams the later part live on an accelerated clock. */
int cli_load(int argc, char **argv);

/* citybrain auto-case: the centre's policy that makes cases of the best
 * unvisited group-rental suspects and the elderly alerts, and dispatches
 * them (autocase.c has the options). */
int cli_auto_case(int argc, char **argv);

#endif
