"""Command palette (Ctrl+P): every view, a refresh, and any host by name."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .i18n import t

if TYPE_CHECKING:
    from .app import LeitstandApp

__all__ = ["LeitstandCommands"]

MAX_HOST_HITS = 30


class LeitstandCommands(Provider):
    @property
    def lapp(self) -> LeitstandApp:
        from .app import LeitstandApp

        return cast(LeitstandApp, self.app)

    def _views(self) -> list[tuple[str, str, object]]:
        from .app import VIEWS

        out: list[tuple[str, str, object]] = []
        for name in VIEWS:
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
            text = t("cmd.host", name=row.hostname)
            yield Hit(
                max(matcher.match(text), 0.1),
                matcher.highlight(text),
                partial(self.lapp.open_host, row.id),
                help=t("cmd.host.help", tenant=row.tenant, site=row.site, state=t(f"state.{row.state}")),
            )
            hits += 1
            if hits >= MAX_HOST_HITS:
                return
