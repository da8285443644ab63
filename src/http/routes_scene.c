/*
 * routes_scene.c - the scenes: group-rental suspects, summaries, the
 * household drill-down, visit feedback and precision; elderly alerts.
 *
 * Suspect lists and drill-downs are household-level data: each read is
 * audited, and a committee token sees its own committee only (the filter
 * is forced to it).
 */
#include "http/http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scene/scene.h"

static int scenes_ready(struct request *req)
{
    if (req->srv->scenes)
        return 1;
    reply_error(req, 503, "the scene engine is not running");
    return 0;
}

/* The committee filter: a committee token is limited to its own. */
static const char *committee_filter(struct request *req)
{
    if (req->who.role == ROLE_COMMITTEE)
        return req->who.committee;
    return req_arg(req, "committee");
}

/* The optional min_score (0..1) and visited filter of a suspects query;
 * replies 400 and returns -1 when bad. */
static int suspect_filters(struct request *req, struct scene_suspect_query *q)
{
    const char *min = req_arg(req, "min_score");
    const char *visited = req_arg(req, "visited");
    q->min_score = -1;
    q->visit = SCENE_VISIT_ANY;
    if (min) {
        char *end;
        double v = strtod(min, &end);
        if (!*min || *end || !(v >= 0 && v <= 1)) {
            reply_error(req, 400,
                        "min_score must be a number from 0 to 1, got '%s'",
                        min);
            return -1;
        }
        q->min_score = v;
    }
    if (visited && (q->visit = scene_visit_filter_parse(visited)) < 0) {
        reply_error(req, 400,
                    "visited must be any, none, visited, confirmed, "
                    "not_found or no_access, got '%s'",
                    visited);
        return -1;
    }
    return 0;
}

void route_group_rental_suspects(struct request *req)
{
    if (!scenes_ready(req))
        return;
    int64_t limit;
    if (req_int_arg(req, "limit", 1, 10000, 100, &limit))
        return;
    struct scene_suspect_query q = {.limit = (int)limit,
                                    .street = req_arg(req, "street"),
                                    .committee = committee_filter(req)};
    if (suspect_filters(req, &q))
        return;
    char object[400];
    snprintf(object, sizeof(object),
             "scene:group-rental street=%s "
             "committee=%s",
             q.street ? q.street : "*", q.committee ? q.committee : "*");
    if (audit_read(req, "scene.suspects", object))
        return;
    if (scene_group_rental_suspects_query_json(req->srv->scenes, &q, &req->out))
        reply_error(req, 500, "cannot list suspects");
    else
        reply_json(req, 200);
}

void route_group_rental_summary(struct request *req)
{
    if (!scenes_ready(req))
        return;
    const char *by = req_arg(req, "by");
    if (scene_group_rental_summary_json(req->srv->scenes, by ? by : "street",
                                        req_arg(req, "street"), &req->out))
        reply_error(req, 400, "by must be 'street' or 'committee'");
    else
        reply_json(req, 200);
}

void route_group_rental_evidence(struct request *req)
{
    if (!scenes_ready(req))
        return;
    if (household_for_read(req, "scene.evidence") < 0)
        return;
    int rc = scene_group_rental_evidence_json(req->srv->scenes, req->param,
                                              &req->out);
    if (rc == CB_ENOTFOUND)
        reply_error(req, 404, "household '%s' is not scored yet", req->param);
    else if (rc)
        reply_error(req, 500, "cannot build the evidence");
    else
        reply_json(req, 200);
}

void route_group_rental_feedback(struct request *req)
{
    if (!scenes_ready(req))
        return;
    int rc = scene_group_rental_feedback_json(req->srv->scenes, req->body.buf,
                                              req->body.len, &req->out);
    if (rc == CB_EINVAL) {
        struct sbuf msg = SBUF_INIT;
        sbuf_init(&msg);
        sbuf_add(&msg, req->out.buf, req->out.len);
        reply_error(req, 400, "%s", msg.buf);
        sbuf_release(&msg);
    } else if (rc == CB_ENOTFOUND) {
        reply_error(req, 404, "unknown household in feedback");
    } else if (rc && rc != CB_EIO) {
        reply_error(req, 500, "feedback failed: %s", cb_strerror(rc));
    } else {
        store_audit(req->srv->store, req->who.name, "scene.feedback",
                    "scene:group-rental", "visit outcome");
        reply_json(req, 200);
    }
}

void route_group_rental_precision(struct request *req)
{
    if (!scenes_ready(req))
        return;
    if (scene_group_rental_precision_json(req->srv->scenes, &req->out))
        reply_error(req, 500, "cannot report precision");
    else
        reply_json(req, 200);
}

void route_elderly_alerts(struct request *req)
{
    if (!scenes_ready(req))
        return;
    if (audit_read(req, "scene.elderly", "scene:elderly-alone"))
        return;
    if (scene_elderly_alerts_json(req->srv->scenes, req_arg(req, "street"),
                                  committee_filter(req), &req->out))
        reply_error(req, 500, "cannot list alerts");
    else
        reply_json(req, 200);
}
