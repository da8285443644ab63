/*
 * autocase.c - citybrain auto-case: the centre's policy that turns the
 * scenes' findings into cases and sends them to their committees.
 *
 *   citybrain auto-case [--url URL] [--token-file F | --token T]
 *                       [--check-token-file F] [--dispatch-token-file F]
 *                       [--min-score P] [--top K] [--elderly yes|no]
 *                       [--until collected|registered|dispatched]
 *                       [--every S] [--once]
 *
 * Every S seconds (default 10; --once: one round) it reads
 *
 *   - the K best group-rental suspects (default 20) scoring at least P
 *     (default 0.8) that no one has visited yet
 *     (GET /api/v1/scenes/group-rental/suspects?visited=none), and
 *   - the open elderly alerts (GET /api/v1/scenes/elderly-alone/alerts),
 *     unless --elderly no,
 *
 * and makes a case of each household that has none from this policy yet
 * (POST /api/v1/cases; the server answers an open case about the same
 * household as a duplicate, and that is left alone).  It then takes the
 * new case as far as --until says (default dispatched): the second check
 * and registration with the check token (a call-taker's), the dispatch
 * with the dispatch token (a dispatcher's); the server routes it to the
 * household's residents' committee.  Each token defaults to --token-file
 * (default citybrain-data/admin.token); the reads and the creation need a
 * role that may read the scenes and make cases (operator or admin).
 *
 * Why a client and not a server setting: the policy is the centre's
 * choice, not the detector's, and it acts through the same API, roles and
 * audit as the people whose steps it takes, so its steps in a case's
 * history name its tokens.  K bounds the flow to what committees can
 * visit: a suspect drops out of the list once visited, and the next one
 * comes in.
 *
 * At start it waits up to 5 s for its tokens to be accepted (one made
 * with `citybrain token create` beside a running server reaches it within
 * a second).  A case that a failed step left short of --until is taken
 * further in the next round, from the state it is in.
 *
 * Households it made a case of are remembered for the run (and, at start,
 * read from the cases already there), so a closed case is not re-opened
 * by the policy; a person can.  Progress goes to stderr with case ids
 * only: no household ids in logs.
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "client/client.h"
#include "util/jsonw.h"
#include "util/util.h"

enum autocase_until { UNTIL_COLLECTED, UNTIL_REGISTERED, UNTIL_DISPATCHED };

struct autocase_opts {
    const char *url, *token_file, *token, *check_file, *dispatch_file;
    double min_score;
    int top, elderly, once, every_s;
    enum autocase_until until;
};

struct autocase {
    struct autocase_opts *o;
    struct client *reader, *checker, *dispatcher;
    char **known; /* households made into cases, sorted for bsearch */
    size_t n_known;
    long long *pending; /* cases made that a failed step left short */
    size_t n_pending;
    long made, duplicates, failed;
};

static volatile sig_atomic_t autocase_stop;

static void on_stop(int sig)
{
    (void)sig;
    autocase_stop = 1;
}

/* Reads a token (first line) from path into out; 0 or CB_EIO (said). */
static int token_read(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f || !fgets(out, (int)cap, f)) {
        fprintf(stderr, "error: cannot read the token from '%s'\n", path);
        if (f)
            fclose(f);
        return CB_EIO;
    }
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int known(struct autocase *a, const char *household)
{
    return a->n_known &&
           bsearch(&household, a->known, a->n_known, sizeof(char *), cmp_str);
}

static void remember(struct autocase *a, const char *household)
{
    if (known(a, household))
        return;
    a->known = xrealloc(a->known, (a->n_known + 1) * sizeof(char *));
    a->known[a->n_known++] = xstrdup(household);
    qsort(a->known, a->n_known, sizeof(char *), cmp_str);
}

/* GETs path as JSON; NULL (said) when it cannot. */
static json_t *get_json(struct client *c, const char *path)
{
    return client_get_json(c, path, "auto-case");
}

/* Applies one transition to case id; 0 or -1 (said). */
static int step(struct client *c, long long id, const char *action,
                const char *reason)
{
    char path[96];
    struct sbuf body = SBUF_INIT;
    struct jsonw w;
    int status;
    sbuf_init(&body);
    jsonw_init(&w, &body);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "action", action);
    jsonw_kv_str(&w, "reason", reason);
    jsonw_object_end(&w);
    snprintf(path, sizeof(path), "/api/v1/cases/%lld/transitions", id);
    json_t *j = client_post_json(c, path, &body, &status);
    sbuf_release(&body);
    if (!j)
        fprintf(stderr, "auto-case: case %lld: '%s' refused: HTTP %d\n", id,
                action, status);
    json_decref(j);
    return j ? 0 : -1;
}

/* Takes case id from state as far as --until asks for: check and
 * register (the check token), dispatch (the dispatch token).  Returns 0
 * when it is there, -1 when a step failed (said). */
static int advance(struct autocase *a, long long id, const char *state,
                   const char *why)
{
    static const char *const from[] = {"collected", "second_check",
                                       "registered"};
    static const char *const action[] = {"check", "register", "dispatch"};
    int last = a->o->until == UNTIL_DISPATCHED   ? 3
               : a->o->until == UNTIL_REGISTERED ? 2
                                                 : 0;
    int i = 0;
    while (i < 3 && strcmp(from[i], state))
        i++;
    for (; i < last; i++)
        if (step(i < 2 ? a->checker : a->dispatcher, id, action[i], why))
            return -1;
    return 0;
}

/* Remembers case id to be taken further in the next round. */
static void pend(struct autocase *a, long long id)
{
    a->pending = xrealloc(a->pending, (a->n_pending + 1) * sizeof(long long));
    a->pending[a->n_pending++] = id;
}

/* Takes the cases a failed step left short further (e.g. a token the
 * server had not picked up yet, a restart); a case someone else moved on
 * (or voided) is dropped from the list. */
static void round_pending(struct autocase *a)
{
    size_t kept = 0;
    for (size_t i = 0; i < a->n_pending; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/api/v1/cases/%lld", a->pending[i]);
        json_t *c = get_json(a->reader, path);
        const char *state = json_string_value(json_object_get(c, "state"));
        if (!c || (state && advance(a, a->pending[i], state,
                                    "auto-case: taken further after a "
                                    "failed step")))
            a->pending[kept++] = a->pending[i];
        json_decref(c);
    }
    a->n_pending = kept;
}

/* Makes a case about household (kind: group_rental or elderly). */
static void make_case(struct autocase *a, const char *kind,
                      const char *household, const char *why)
{
    struct sbuf body = SBUF_INIT;
    struct jsonw w;
    int status;
    sbuf_init(&body);
    jsonw_init(&w, &body);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "category", kind);
    jsonw_kv_str(&w, "source_kind", kind);
    jsonw_kv_str(&w, "source_ref", household);
    jsonw_kv_str(&w, "reason", why);
    jsonw_object_end(&w);
    json_t *j = client_post_json(a->reader, "/api/v1/cases", &body, &status);
    sbuf_release(&body);
    remember(a, household);
    long long id = (long long)json_integer_value(json_object_get(j, "id"));
    if (!j || id <= 0) {
        a->failed++;
        fprintf(stderr, "auto-case: a %s case was refused: HTTP %d\n", kind,
                status);
    } else if (json_is_true(json_object_get(j, "duplicate"))) {
        a->duplicates++;
    } else {
        a->made++;
        fprintf(stderr, "auto-case: case %lld (%s) made\n", id, kind);
        if (advance(a, id, "collected", why))
            pend(a, id);
    }
    json_decref(j);
}

static void round_suspects(struct autocase *a)
{
    char path[160];
    snprintf(path, sizeof(path),
             "/api/v1/scenes/group-rental/suspects?limit=%d&min_score=%g"
             "&visited=none",
             a->o->top, a->o->min_score);
    json_t *j = get_json(a->reader, path), *s;
    size_t i;
    json_array_foreach(json_object_get(j, "suspects"), i, s)
    {
        const char *h = json_string_value(json_object_get(s, "household_id"));
        double score = json_number_value(json_object_get(s, "score"));
        char why[160];
        if (!h || known(a, h))
            continue;
        snprintf(why, sizeof(why),
                 "auto-case: group-rental score %.3f >= %g, top %d unvisited",
                 score, a->o->min_score, a->o->top);
        make_case(a, "group_rental", h, why);
    }
    json_decref(j);
}

static void round_elderly(struct autocase *a)
{
    json_t *j = get_json(a->reader, "/api/v1/scenes/elderly-alone/alerts"), *e;
    size_t i;
    json_array_foreach(json_object_get(j, "alerts"), i, e)
    {
        const char *h = json_string_value(json_object_get(e, "household_id"));
        if (h && !known(a, h))
            make_case(a, "elderly", h,
                      "auto-case: elderly-alone alert (water quiet)");
    }
    json_decref(j);
}

/* Remembers the households of the policy's kinds that already have cases
 * (a restart must not re-open what was closed). */
static void read_existing(struct autocase *a)
{
    json_t *j = get_json(a->reader, "/api/v1/cases?limit=10000"), *c;
    size_t i;
    json_array_foreach(j, i, c)
    {
        const char *kind = json_string_value(json_object_get(c, "source_kind"));
        const char *h = json_string_value(json_object_get(c, "household_id"));
        if (kind && h && *h &&
            (!strcmp(kind, "group_rental") || !strcmp(kind, "elderly")))
            remember(a, h);
    }
    json_decref(j);
}

static int parse_until(const char *v, enum autocase_until *OUT)
{
    static const char *names[] = {"collected", "registered", "dispatched"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(v, names[i])) {
            *OUT = (enum autocase_until)i;
            return 0;
        }
    return -1;
}

static int parse_flag(const char *k, const char *v, struct autocase_opts *o)
{
    if (!strcmp(k, "--url"))
        o->url = v;
    else if (!strcmp(k, "--token-file"))
        o->token_file = v;
    else if (!strcmp(k, "--token"))
        o->token = v;
    else if (!strcmp(k, "--check-token-file"))
        o->check_file = v;
    else if (!strcmp(k, "--dispatch-token-file"))
        o->dispatch_file = v;
    else if (!strcmp(k, "--min-score"))
        o->min_score = atof(v);
    else if (!strcmp(k, "--top"))
        o->top = atoi(v);
    else if (!strcmp(k, "--every"))
        o->every_s = atoi(v);
    else if (!strcmp(k, "--elderly") && (!strcmp(v, "yes") || !strcmp(v, "no")))
        o->elderly = !strcmp(v, "yes");
    else if (!strcmp(k, "--until"))
        return parse_until(v, &o->until);
    else
        return -1;
    return 0;
}

static int parse_opts(int argc, char **argv, struct autocase_opts *o)
{
    *o = (struct autocase_opts){.url = "http://127.0.0.1:8080",
                                .token_file = "citybrain-data/admin.token",
                                .min_score = 0.8,
                                .top = 20,
                                .elderly = 1,
                                .every_s = 10,
                                .until = UNTIL_DISPATCHED};
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--once")) {
            o->once = 1;
            continue;
        }
        if (i + 1 >= argc || parse_flag(argv[i], argv[i + 1], o)) {
            fprintf(stderr, "error: auto-case: bad option '%s'\n", argv[i]);
            return CB_EINVAL;
        }
        i++;
    }
    if (o->min_score < 0 || o->min_score > 1 || o->top < 1 || o->top > 1000 ||
        o->every_s < 1) {
        fprintf(stderr, "error: auto-case: --min-score 0-1, --top 1-1000, "
                        "--every >= 1 second\n");
        return CB_EINVAL;
    }
    return 0;
}

/* Whether c's token is accepted: a token just made with `citybrain token
 * create` reaches a running server within a second, so it is asked for
 * up to 5 s.  0, or -1 (said). */
static int token_accepted(struct client *c, const char *what)
{
    int status = 0;
    for (int i = 0; i < 50 && !autocase_stop; i++) {
        if (client_get(c, "/api/v1/whoami", &status, NULL) == 0 &&
            status == 200)
            return 0;
        if (status != 401 && status != 0)
            break;
        nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
    fprintf(stderr, "error: auto-case: the %s token is refused: HTTP %d\n",
            what, status);
    return -1;
}

/* A client with the token of file (NULL: the main token). */
static struct client *client_for(struct autocase_opts *o, const char *main,
                                 const char *file)
{
    char tok[256];
    if (file && token_read(file, tok, sizeof(tok)))
        return NULL;
    return client_new(o->url, file ? tok : main);
}

int cli_auto_case(int argc, char **argv)
{
    struct autocase_opts o;
    struct autocase a = {.o = &o};
    char tok[256];
    if (parse_opts(argc, argv, &o))
        return 2;
    if (o.token)
        snprintf(tok, sizeof(tok), "%s", o.token);
    else if (token_read(o.token_file, tok, sizeof(tok)))
        return 1;
    a.reader = client_new(o.url, tok);
    a.checker = client_for(&o, tok, o.check_file);
    a.dispatcher = client_for(&o, tok, o.dispatch_file);
    int rc = a.checker && a.dispatcher ? 0 : 1;
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    if (!rc && (token_accepted(a.reader, "main") ||
                token_accepted(a.checker, "check") ||
                token_accepted(a.dispatcher, "dispatch")))
        rc = 1;
    if (!rc)
        read_existing(&a);
    while (!rc && !autocase_stop) {
        round_pending(&a);
        round_suspects(&a);
        if (o.elderly)
            round_elderly(&a);
        if (o.once)
            break;
        for (int t = 0; t < o.every_s * 10 && !autocase_stop; t++)
            nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
    fprintf(stderr,
            "auto-case: %ld cases made, %ld already open, %ld refused, "
            "%zu short of --until\n",
            a.made, a.duplicates, a.failed, a.n_pending);
    for (size_t i = 0; i < a.n_known; i++)
        free(a.known[i]);
    free(a.known);
    free(a.pending);
    client_free(a.reader);
    client_free(a.checker);
    client_free(a.dispatcher);
    return rc || a.failed || a.n_pending ? 1 : 0;
}
