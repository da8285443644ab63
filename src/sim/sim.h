/*
 * sim.h - the simulated district: `citybrain simulate`.
 *
 * People try citybrain before they connect a real department, and we test
 * and benchmark on data whose truth we know.  The simulator builds a
 * Pudong-like district (36 streets and towns, about 1,300 residents'
 * committees at full size, compounds, buildings and households), lives it
 * person by person for a number of days, and writes what the departments
 * would send, in citybrain's own ingest formats, plus the hidden truth in
 * separate files:
 *
 *   file                        format               what
 *   --------------------------  -------------------  ------------------------
 *   households.csv              CSV, header          the registry (+ flags)
 *   streets.geojson             GeoJSON              street polygons
 *   readings.lp                 line protocol, s     water, electricity, gas
 *   deliveries.ndjson           NDJSON               food-delivery orders
 *   events.ndjson               NDJSON               110/119/120/12345/urban
 *   manifest.json               JSON                 arguments and counts
 *   truth/households.csv        CSV                  type, true occupants...
 *   truth/faults.csv            CSV                  every injected meter fault
 *   truth/address_map.csv       CSV                  order -> household, form
 *   truth/incidents.csv         CSV                  storm, crowd, main break..
 *   truth/incident_events.csv   CSV                  events an incident added
 *
 * docs/SIMULATOR.md describes every column and the statistics.
 *
 * Determinism: the output is a function of the arguments only.  Every
 * household-day draws from its own generator seeded by (seed, household,
 * day), so the work splits across threads and the bytes stay the same for
 * any --threads.
 */
#ifndef CB_SIM_H
#define CB_SIM_H

/*
 * Runs `citybrain simulate ...`.  argv[0] is "simulate"; the options are
 * described by `citybrain simulate --help`.  Progress goes to stderr unless
 * --quiet.  Returns a process exit status: 0 on success, 2 for a bad
 * argument (with a message quoting it), 1 when the output cannot be written.
 */
int sim_main(int argc, char **argv);

/*
 * Runs `citybrain committee-sim ...` (argv: the options after the command
 * word): simulated committee workers visit the cases dispatched to their
 * committees and report, through the HTTP API with a token each, what the
 * district's truth holds, with a share of no-access visits and wrong
 * reports, on the district clock (sim_committee.c has the model).  Runs
 * until SIGINT or SIGTERM, then revokes its tokens and prints a JSON
 * summary.  Returns 0, 2 for a bad argument, 1 when it cannot start.
 */
int sim_committee_main(int argc, char **argv);

#endif
