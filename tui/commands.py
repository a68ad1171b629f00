"""Command palette (Ctrl+P): every view, a refresh, and any host by name."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

from .i18n import t, tv
from .safe_text import clean
from .shell import Shell, shell

__all__ = ["LeitstandCommands"]

MAX_HOST_HITS = 30


class LeitstandCommands(Provider):
    @property
    def lapp(self) -> Shell:
        return shell(self.app)

    def _views(self) -> list[tuple[str, str, object]]:
        out: list[tuple[str, str, object]] = []
        for name in self.lapp.view_names:
            label = t(f"view.{name}")
            out.append(
                (t("cmd.view", name=label), t("cmd.view.help", name=label), partial(self.lapp.action_view, name))
            )
        out.append((t("cmd.refresh"), t("cmd.refresh.help"), self.lapp.action_refresh))
        return out

    async def discover(self) -> Hits:
        for text, help_text, callback in self._views():
            yield DiscoveryHit(text, callback, help=help_text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, callback in self._views():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), callback, help=help_text)  # type: ignore[arg-type]
        needle = query.strip().lower()
        if len(needle) < 2:
            return
        hits = 0
        for row in self.lapp.host_rows:
            if needle not in row.search:
                continue
            text = clean(t("cmd.host", name=row.hostname))
            help_text = clean(t("cmd.host.help", tenant=row.tenant, site=row.site, state=tv("state", row.state)))
            # the palette parses str prompts and help as markup; Content is shown as it is
            yield Hit(
                max(matcher.match(text), 0.1),
                _highlight(matcher, text),
                partial(self.lapp.open_host, row.id),
                text=text,
                help=Content(help_text),  # type: ignore[arg-type]
            )
            hits += 1
            if hits >= MAX_HOST_HITS:
                return


def _highlight(matcher: Matcher, candidate: str) -> Content:
    """`Matcher.highlight` without its markup parsing: a hostname is literal text."""
    content = Content(candidate)
    score, offsets = matcher.fuzzy_search.match(matcher.query, candidate)
    if score:
        for offset in offsets:
            if not candidate[offset].isspace():
                content = content.stylize(matcher.match_style, offset, offset + 1)
    return content
