/* main.c - the citybrain command: dispatches to the module that does it. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "detect/detect.h"
#include "ingest/ingest.h"
#include "sim/sim.h"

static const char usage[] =
    "usage: citybrain <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve [--data DIR] [--listen HOST:PORT] [--config FILE] [...]\n"
    "        run the server (see citybrain.conf.sample for every option)\n"
    "  serve --print-config-sample\n"
    "        print the documented configuration\n"
    "  simulate --households N --days D --seed S --out DIR [...]\n"
    "        generate a synthetic district (citybrain simulate --help)\n"
    "  load --dir DIR [--url URL] [--token-file F] [--live-from DATE]\n"
    "        post a simulated district to a running server, then stream\n"
    "        the days from DATE on live (a simulated day a minute)\n"
    "  auto-case [--url URL] [--token-file F] [--min-score P] [--top K]\n"
    "        make cases of the best suspects and the elderly alerts, and\n"
    "        dispatch them to their committees\n"
    "  committee-sim --truth DIR [--url URL] [--token-file ADMIN] [...]\n"
    "        simulated committee workers visit their tasks and report what\n"
    "        the district's truth holds (docs/SIMULATOR.md)\n"
    "  detect-series [--probation N] < series.csv\n"
    "        score each row of a timestamp,value CSV for anomaly (0..1)\n"
    "  token create --name NAME --role ROLE [--department D]\n"
    "               [--committee C] [--data DIR]\n"
    "  token list [--data DIR]\n"
    "  token revoke ID [--data DIR]\n"
    "  login-link --role ROLE [--name N] [--committee C] [--department D]\n"
    "             [--minutes M] [--base URL] [--data DIR]\n"
    "        print a one-time browser login link (/login?once=...)\n"
    "  department create --name NAME --feeds F1,F2 [--data DIR]\n"
    "        feeds: registry, readings, deliveries, events\n";

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    ingest_json_init();
    if (!strcmp(cmd, "serve"))
        return cli_serve(argc - 2, argv + 2);
    if (!strcmp(cmd, "simulate"))
        return sim_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "detect-series"))
        return detect_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "load"))
        return cli_load(argc - 2, argv + 2);
    if (!strcmp(cmd, "auto-case"))
        return cli_auto_case(argc - 2, argv + 2);
    if (!strcmp(cmd, "committee-sim"))
        return sim_committee_main(argc - 2, argv + 2);
    if (!strcmp(cmd, "token"))
        return cli_token(argc - 2, argv + 2);
    if (!strcmp(cmd, "login-link"))
        return cli_login_link(argc - 2, argv + 2);
    if (!strcmp(cmd, "department"))
        return cli_department(argc - 2, argv + 2);
    fprintf(stderr, "error: unknown command '%s'\n\n%s", cmd, usage);
    return 2;
}
