"""Server-sent events: one JSON data line per event, and the streaming response around them."""

from __future__ import annotations

import json
import logging
from collections.abc import Generator, Iterator

from django.http import StreamingHttpResponse

logger = logging.getLogger(__name__)
ANSWER_TOKEN_SALT = "support.answer"


def sse_event(event: str, data: dict) -> str:
    """One server-sent event; JSON on a single data line."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def sse_response(stream: Iterator[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(stream, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response


def ask_event_stream(
    stream: Generator,
    *,
    public_filter: bool,
    url_prefix: str | None = "",
    widget: bool = False,
) -> Iterator[str]:
    """services.ask_answer_stream as SSE: meta, token..., done (recorded ids, thread) or error.

    The same for portal, widget and API: only the URLs in `done` differ (`url_prefix`).
    """
    from support import presenters
    from support.services import AskResult

    try:
        for item in stream:
            if isinstance(item, AskResult):
                yield sse_event("done", _done_payload(item, public_filter, url_prefix, widget))
                continue
            if item.type == "meta":
                hits = item.data.get("hits") or []
                if public_filter:
                    allowed = presenters.public_article_ids({h.get("article_id") for h in hits})
                    hits = [h for h in hits if h.get("article_id") in allowed]
                keys = ("article_id", "title", "slug", "score")
                yield sse_event("meta", {"hits": [{k: h.get(k) for k in keys} for h in hits]})
            elif item.type == "token":
                token = {"text": item.data.get("text", "")}
                if item.data.get("reset"):
                    # The LLM stream broke after some text was shown: the client clears it
                    # and the extractive answer follows.
                    token["reset"] = True
                yield sse_event("token", token)
            elif item.type == "error":
                yield sse_event("error", {"message": str(item.data.get("message", "Error"))})
    except GeneratorExit:
        stream.close()  # the service records the question of a client that hung up
        raise
    except Exception:  # the stream has started: report in-band, never a half-open response
        logger.exception("answer stream failed")
        yield sse_event(
            "error", {"message": "Sorry, something went wrong while answering. Please retry."}
        )


def _done_payload(result, public_filter: bool, url_prefix: str | None, widget: bool) -> dict:
    from django.core import signing

    from support import presenters, thread_links

    data = presenters.answer_for_portal(result.answer) if public_filter else result.answer.to_dict()
    data.pop("hits", None)
    pk = result.interaction.pk
    payload = {
        "answer": data,
        "interaction_id": pk,
        "kind": result.kind,
        "handed_off": result.handed_off,
        "conversation_id": result.conversation.pk if result.conversation else None,
    }
    if url_prefix is not None:
        payload["feedback_url"] = f"{url_prefix}/ask/{pk}/feedback/"
        payload["escalate_url"] = f"{url_prefix}/ask/{pk}/escalate/"
        payload["token"] = signing.dumps(pk, salt=ANSWER_TOKEN_SALT)
    if result.conversation is not None and public_filter:
        conversation = result.conversation
        payload["status"] = conversation.status
        if widget or conversation.customer_id is None:
            # Widget frames keep this to resume the thread; it is also the private link.
            payload["thread"] = thread_links.thread_link_token(conversation)
            payload["thread_url"] = f"/t/{payload['thread']}/"
        else:
            payload["thread_url"] = f"/requests/{conversation.pk}/"
    return payload
