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

void route_group_rental_suspects(struct request *req)
{
    if (!scenes_ready(req))
        return;
    int64_t limit;
    if (req_int_arg(req, "limit", 1, 10000, 100, &limit))
        return;
    const char *street = req_arg(req, "street");
    const char *committee = committee_filter(req);
    char object[400];
    snprintf(object, sizeof(object),
             "scene:group-rental street=%s "
             "committee=%s",
             street ? street : "*", committee ? committee : "*");
    if (audit_read(req, "scene.suspects", object))
        return;
    if (scene_group_rental_suspects_json(req->srv->scenes, limit, street,
                                         committee, &req->out))
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
