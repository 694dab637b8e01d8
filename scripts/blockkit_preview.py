"""Render a Block Kit message as Slack shows it, to a standalone HTML page and a PNG.

    python scripts/blockkit_preview.py                      # tocsin's sample critical page
    python scripts/blockkit_preview.py payload.json --png out.png --html out.html

With no payload, the Slack app's message for tocsin's sample incident (the one the template
docs use: two alerts firing, a runbook, two first checks) paging a person, as
``notify.slack.app_payload`` builds it. Renders header, section (mrkdwn: *bold*, _italic_,
~strike~, `code`, ```blocks```, <url|label> links, <@member> mentions, a few emoji), context,
divider, actions and section accessories (buttons, their styles). Text is escaped for HTML:
a payload is untrusted input here too. The PNG is taken by Playwright with the system's
Chromium (``--chromium``, default /usr/bin/chromium), headless.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from pathlib import Path
from typing import Any

EMOJI = {
    ":white_check_mark:": "\u2705",
    ":rotating_light:": "\U0001f6a8",
    ":warning:": "\u26a0\ufe0f",
    ":fire:": "\U0001f525",
}
STYLE = """
body { margin: 0; background: #fff; font: 15px/1.46668 -apple-system, "Segoe UI", Lato,
  "Helvetica Neue", Arial, sans-serif; color: #1d1c1d; }
.channel { border-bottom: 1px solid #ddd; padding: 10px 20px; font-weight: 900; font-size: 18px; }
.msg { display: flex; padding: 12px 20px 16px; }
.avatar { width: 36px; height: 36px; border-radius: 6px; background: #b3261e; color: #fff;
  font-weight: 900; font-size: 20px; display: flex; align-items: center;
  justify-content: center; flex: none; margin-right: 8px; }
.body { min-width: 0; flex: 1; }
.who { font-weight: 900; } .app { font-size: 10px; font-weight: 700; color: #616061;
  background: #e8e8e8; border-radius: 2px; padding: 1px 3px; margin: 0 4px; }
.time { color: #616061; font-size: 12px; }
.header { font-size: 18px; font-weight: 900; margin: 6px 0 4px; }
.section { margin: 4px 0; display: flex; gap: 12px; align-items: flex-start; }
.section .text { flex: 1; min-width: 0; word-wrap: break-word; }
.context { color: #616061; font-size: 12px; margin: 6px 0; }
.divider { border-top: 1px solid #ddd; margin: 8px 0; }
code { font: 12px Monaco, Menlo, Consolas, monospace; color: #c01343; background: #f6f6f6;
  border: 1px solid #ddd; border-radius: 3px; padding: 1px 3px; }
pre { font: 12px/1.5 Monaco, Menlo, Consolas, monospace; background: #f8f8f8;
  border: 1px solid #ddd; border-radius: 4px; padding: 8px; margin: 4px 0;
  white-space: pre-wrap; word-break: break-all; }
a { color: #1264a3; text-decoration: none; }
.mention { color: #1264a3; background: #e8f5fa; border-radius: 3px; padding: 0 2px; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; margin: 10px 0 4px; }
.button { font: 700 13px Lato, "Helvetica Neue", Arial, sans-serif; border-radius: 4px;
  padding: 0 12px; height: 28px; display: inline-flex; align-items: center;
  border: 1px solid #bbb; background: #fff; color: #1d1c1d; white-space: nowrap; }
.button.primary { background: #007a5a; border-color: #007a5a; color: #fff; }
.button.danger { background: #e01e5a; border-color: #e01e5a; color: #fff; }
"""


def _unslack(text: str) -> str:
    """Slack's own escapes back to characters (then escaped again for HTML)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _emphasis(escaped: str) -> str:
    """*bold*, _italic_, ~strike~ over text already escaped for HTML."""
    for mark, tag in (("*", "b"), ("_", "i"), ("~", "s")):
        m = re.escape(mark)
        escaped = re.sub(
            rf"(?<![\w{m}]){m}(?=\S)([^{m}\n]*?\S){m}(?![\w{m}])", rf"<{tag}>\1</{tag}>", escaped
        )
    for name, char in EMOJI.items():
        escaped = escaped.replace(name, char)
    return escaped


def _link(token: str, names: dict[str, str]) -> str:
    inner = token[1:-1]
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        who = names.get(target[1:], target[1:])
        return f'<span class="mention">@{html.escape(who)}</span>'
    if target.startswith("!"):
        return f'<span class="mention">@{html.escape(target[1:])}</span>'
    if target.startswith("#"):
        return f'<span class="mention">#{html.escape(label or target[1:])}</span>'
    shown = _emphasis(html.escape(_unslack(label or target)))
    return f'<a href="{html.escape(_unslack(target), quote=True)}">{shown}</a>'


def _inline(text: str, names: dict[str, str]) -> str:
    out = []
    for token in re.split(r"(`[^`\n]+`|<[^<>\n]+>)", text):
        if token.startswith("`") and token.endswith("`") and len(token) > 1:
            out.append(f"<code>{html.escape(_unslack(token[1:-1]))}</code>")
        elif token.startswith("<") and token.endswith(">"):
            out.append(_link(token, names))
        else:
            # Slack keeps runs of spaces (the status line's gaps): HTML would collapse them
            out.append(_emphasis(html.escape(_unslack(token)).replace("  ", "&nbsp; ")))
    return "".join(out).replace("\n", "<br>")


def mrkdwn(text: str, names: dict[str, str] | None = None) -> str:
    """Slack's mrkdwn as HTML: code blocks first, then inline code, links and emphasis."""
    parts = re.split(r"```(.*?)```", text, flags=re.S)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<pre>{html.escape(_unslack(part.strip(chr(10))))}</pre>")
        else:
            out.append(_inline(part.strip("\n") if i else part, names or {}))
    return "".join(out)


def _text(obj: dict[str, Any] | None, names: dict[str, str]) -> str:
    if not obj:
        return ""
    if obj.get("type") == "plain_text":
        return html.escape(str(obj.get("text", ""))).replace("\n", "<br>")
    return mrkdwn(str(obj.get("text", "")), names)


def _button(element: dict[str, Any]) -> str:
    style = element.get("style", "")
    label = html.escape(str(element.get("text", {}).get("text", "")))
    if element.get("url"):
        label += " \u2197"
    return f'<span class="button {html.escape(style)}">{label}</span>'


def render_blocks(blocks: list[dict[str, Any]], names: dict[str, str]) -> str:
    out = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            out.append(f'<div class="header">{_text(block.get("text"), names)}</div>')
        elif kind == "section":
            accessory = block.get("accessory")
            side = _button(accessory) if accessory and accessory.get("type") == "button" else ""
            fields = "".join(f"<div>{_text(f, names)}</div>" for f in block.get("fields", []))
            text = _text(block.get("text"), names) + fields
            out.append(f'<div class="section"><div class="text">{text}</div>{side}</div>')
        elif kind == "context":
            parts = " ".join(_text(e, names) for e in block.get("elements", []))
            out.append(f'<div class="context">{parts}</div>')
        elif kind == "divider":
            out.append('<div class="divider"></div>')
        elif kind == "actions":
            buttons = "".join(
                _button(e) for e in block.get("elements", []) if e.get("type") == "button"
            )
            out.append(f'<div class="actions">{buttons}</div>')
    return "\n".join(out)


def page(
    payload: dict[str, Any],
    channel: str = "inc-critical",
    names: dict[str, str] | None = None,
    when: str = "3:05 AM",
) -> str:
    """A standalone HTML page showing ``payload`` as the app's message in ``channel``."""
    body = render_blocks(list(payload.get("blocks") or []), names or {})
    if not body:
        body = f'<div class="section">{mrkdwn(str(payload.get("text", "")), names)}</div>'
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Block Kit preview</title>
<style>{STYLE}</style></head>
<body><div class="channel"># {html.escape(channel)}</div>
<div class="msg"><div class="avatar">t</div><div class="body">
<div><span class="who">tocsin</span><span class="app">APP</span>
<span class="time">{html.escape(when)}</span></div>
{body}
</div></div></body></html>
"""


def sample_payload() -> dict[str, Any]:
    """The Slack app's page for tocsin's sample incident, paging Ada in #inc-critical."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from tocsin.config.models import ChannelTemplates
    from tocsin.notify.message import Message, message_context
    from tocsin.notify.slack import app_payload
    from tocsin.notify.templates import ChannelTemplateSet
    from tocsin.templating import sample_context

    ctx = sample_context()
    message = Message(
        kind="firing",
        incident_id=42,
        title=ctx["title"],
        status="triggered",
        severity="critical",
        summary=ctx["summary"],
        group_labels=dict(ctx["group_labels"]),
        alerts=tuple(
            {k: a[k] for k in ("fingerprint", "status", "labels", "annotations", "starts_at")}
            | {"ends_at": a["ends_at"] or None}
            for a in ctx["alerts"]
        ),
        idempotency_key="preview",
        created_at="2024-05-14T03:05:00Z",
        external_url=ctx["external_url"],
        runbook_url=ctx["runbook_url"],
        runbook_title=ctx["runbook_title"],
        diagnostics=tuple(ctx["diagnostics"]),
        escalation_step=1,
        recipient={"name": "Ada Lovelace", "email": "ada@example.com", "slack": "U024BE7LH"},
    )
    title = ChannelTemplateSet("preview", ChannelTemplates()).render(
        "title", message_context(message)
    )
    return app_payload(message, title)


def screenshot(document: str, png: Path, chromium: str, width: int = 760) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True)
        try:
            tab = browser.new_page(viewport={"width": width, "height": 400}, device_scale_factor=2)
            tab.set_content(document, wait_until="load")
            tab.screenshot(path=str(png), full_page=True)
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("payload", nargs="?", help="a Block Kit message (JSON); default: sample")
    parser.add_argument("--html", type=Path, help="write the HTML page here")
    parser.add_argument("--png", type=Path, help="write a screenshot here")
    parser.add_argument("--channel", default="inc-critical")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--width", type=int, default=760)
    args = parser.parse_args(argv)
    if args.payload:
        payload = json.loads(Path(args.payload).read_text(encoding="utf-8"))
    else:
        payload = sample_payload()
    document = page(payload, args.channel, {"U024BE7LH": "Ada Lovelace"})
    if args.html:
        args.html.write_text(document, encoding="utf-8")
    if args.png:
        screenshot(document, args.png, args.chromium, args.width)
    if not args.html and not args.png:
        sys.stdout.write(document)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
