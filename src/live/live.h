/*
 * live.h - the live hub: recent events for screens, streamed as SSE.
 *
 * Anything that changes what a screen shows (a committed ingest batch, a
 * re-score, an alert, a case step) is published here as one event: a type
 * and one line of JSON.  The hub keeps the newest events in a bounded ring
 * with a sequence number that only grows, so a screen that reconnects
 * resumes where it stopped (SSE's Last-Event-ID) as long as the ring still
 * holds that point; otherwise it gets a `reset` event first and reloads.
 *
 *   ring slot   seq (int64, +1 per event; the first is the wall clock
 *               in milliseconds * 1000 at start, so ids of an earlier run
 *               are older than anything held and resume as a reset)
 *               type (<= LIVE_TYPE_MAX bytes, [a-z0-9_.-])
 *               data (one line of JSON, <= event_max_bytes)
 *               audience (roles, committee, department: below)
 *
 * Audience.  Each event says who may see it, and the hub filters for each
 * reader: what a role may not see never reaches its socket.
 *
 *   field          meaning
 *   -------------  ---------------------------------------------------
 *   roles          bit (1 << enum role) per role that may see it
 *   committee      NULL/"": every committee token that has the bit;
 *                  else only the committee of that name (household-level
 *                  events of one committee)
 *   department_id  0: every publisher that has the bit; else only tokens
 *                  of that department
 *
 * The wire format a reader produces (text/event-stream):
 *
 *   retry: 3000\n: citybrain live\n\n       once, at the start
 *   id: SEQ\nevent: TYPE\ndata: JSON\n\n    each visible event
 *   id: SEQ\nevent: reset\ndata: {"oldest":..,"newest":..}\n\n
 *                                           the asked-for id is no longer
 *                                           (or never was) in the ring
 *   : heartbeat\n\n                         after heartbeat_s of silence
 *   event: bye\ndata: {"reason":".."}\n\n   last, when the hub ends the
 *                                           stream (slow reader, stopping)
 *
 * Budgets.  The ring holds ring_events events of at most event_max_bytes
 * each; at most max_readers streams are open (CB_EBUSY past it, HTTP 503);
 * a reader that trails the newest event by more than reader_lag_max
 * events (its socket backed up) is sent `bye` and ended: it reconnects and
 * resumes.  Nothing a reader does can make a publisher wait.
 *
 * Threading.  Every function is thread-safe; one mutex guards the ring and
 * the reader list, held only to copy an event in or out.  live_publish
 * never blocks on a reader: a reader with nothing to send is parked (its
 * waker's park() runs, under the hub's mutex, so that a publish in between
 * cannot be lost) and woken (wake(), also under the mutex, once per park)
 * by the next publish, by the heartbeat ticker thread, or by
 * live_shutdown.  park() and wake() must not call back into the hub.
 *
 * Errors: negative enum cb_err values.
 */
#ifndef CB_LIVE_H
#define CB_LIVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/store.h"

#define LIVE_TYPE_MAX 32
#define LIVE_ROLE(r) (1u << (r))
/* The staff roles: what live_publish's events reach (the case loop's
 * desk roles too: docs/API.md's role table gives them every staff
 * event). */
#define LIVE_STAFF                                                             \
    (LIVE_ROLE(ROLE_ADMIN) | LIVE_ROLE(ROLE_OPERATOR) |                        \
     LIVE_ROLE(ROLE_ANALYST) | LIVE_ROLE(ROLE_SUPERVISOR) |                    \
     LIVE_ROLE(ROLE_CALL_TAKER) | LIVE_ROLE(ROLE_SHIFT_LEAD) |                 \
     LIVE_ROLE(ROLE_DISPATCHER))
/* live_reader_read: the stream is over. */
#define LIVE_END (-1)

struct live;
struct live_reader;

struct live_config {
    size_t ring_events;     /* events kept for resuming (>= 2) */
    size_t event_max_bytes; /* largest data accepted (CB_ETOOBIG above) */
    int max_readers;        /* streams open at once (CB_EBUSY above) */
    int heartbeat_s;        /* a comment after this much silence (>= 1) */
    size_t reader_lag_max;  /* events a reader may trail by (>= 1) */
};
/* Fills cfg with the defaults: 4096 events of 64 KiB, 64 readers, 15 s,
 * 1024 events. */
void live_config_defaults(struct live_config *cfg);

/* Who may see an event (the table above).  Strings are copied. */
struct live_audience {
    unsigned roles;
    const char *committee;
    int64_t department_id;
};

/* Who reads a stream.  Strings are copied. */
struct live_viewer {
    enum role role;
    const char *committee; /* committee role: its committee */
    int64_t department_id; /* publisher: its department */
};

/* How the hub parks and wakes a reader's connection (see Threading).
 * gone (may be NULL) is asked by the ticker, once a second, whether a
 * parked reader's client has gone away (its connection cannot tell while
 * parked); when it says 1 the reader is woken and its stream ends, so the
 * slot is free within a second rather than at the next heartbeat. */
struct live_waker {
    void (*park)(void *ctx);
    void (*wake)(void *ctx);
    int (*gone)(void *ctx);
    void *ctx;
};

/* Creates a hub (cfg copied) and starts its heartbeat ticker.  Returns 0
 * or CB_EINVAL for a bad config. */
int live_new(const struct live_config *cfg, struct live **OUT_hub);
/* Stops the ticker and frees the hub.  Every reader must be closed
 * first.  NULL is a no-op. */
void live_free(struct live *hub);

/* Publishes an event for the staff roles (admin, operator, analyst): type
 * and one line of JSON (both copied).  Callable from any thread; never
 * waits for a reader.  Returns its seq (> 0), or CB_EINVAL (bad type, or
 * data empty or holding a line break), CB_ETOOBIG (data over
 * event_max_bytes) or CB_ECLOSED (after live_shutdown). */
int64_t live_publish(struct live *hub, const char *type, const char *json_data);
/* The same for the audience aud (borrowed for the call). */
int64_t live_publish_to(struct live *hub, const char *type,
                        const char *json_data, const struct live_audience *aud);

/* Opens a stream for who (copied).  last_event_id < 0: only events from
 * now on; else resume after it (a `reset` first when the ring no longer
 * holds the events after it).  Returns 0; CB_EBUSY with max_readers open;
 * CB_ECLOSED after live_shutdown.  waker is copied. */
int live_reader_open(struct live *hub, const struct live_viewer *who,
                     int64_t last_event_id, const struct live_waker *waker,
                     struct live_reader **OUT_reader);
/* Copies up to max bytes of the stream into buf.  Returns the count
 * (> 0); 0 when there is nothing to send (the reader was parked: call
 * again after wake()); LIVE_END when the stream is over. */
ssize_t live_reader_read(struct live_reader *r, char *buf, size_t max);
/* Closes a reader (never parked afterwards); NULL is a no-op. */
void live_reader_close(struct live_reader *r);

/* Ends every stream (each gets `bye`; parked readers are woken) and
 * refuses new publishes and readers.  For a clean stop of the server. */
void live_shutdown(struct live *hub);

/* Counters, for /metrics and tests. */
struct live_stats {
    int64_t newest_seq; /* 0 before the first event */
    uint64_t published;
    uint64_t readers; /* open now */
    uint64_t cut;     /* readers ended for lagging */
};
void live_get_stats(struct live *hub, struct live_stats *OUT_stats);

#endif
