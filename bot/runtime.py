"""One process's parts, wired from Settings: store, flows, pipeline, channel adapters, delivery and media workers (the
adapters and the worker are built, and the provider libraries loaded, when a process first uses them: a short
command that only reads or queues does without)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from bot.channels.base import ChannelAdapter
from bot.channels.simulator import SimulatorChannel
from bot.clock import Clock
from bot.delivery.rules import SendRules
from bot.delivery.sweeps import Schedule, run_sweeps
from bot.delivery.worker import DeliveryWorker
from bot.media.storage import Storage, open_storage
from bot.media.worker import MediaWorker, purge
from bot.messages import Channel
from bot.pipeline.batching import GroupCommit
from bot.pipeline.orchestrator import Pipeline
from bot.program import Program
from bot.settings import Settings
from bot.store.db import Database
from bot.store.flow_registry import FlowRegistry
from bot.store.migrate import upgrade

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.channels.telegram import TelegramChannel
    from bot.channels.twilio_sms import TwilioSms
    from bot.channels.twilio_whatsapp import TwilioWhatsApp

log = logging.getLogger("loopline")


def send_rules(settings: Settings) -> SendRules:
    """Quiet hours, the frequency cap and the senders' pace as the delivery workers apply them."""
    (quiet_start, quiet_end), (cap, window) = settings.quiet_hours, settings.frequency_cap
    return SendRules(
        quiet_start,
        quiet_end,
        cap,
        window,
        settings.timezone,
        settings.sms_segments_per_second,
        settings.sms_sender,
        whatsapp_per_second=settings.whatsapp_per_second,
        whatsapp_sender=settings.twilio.whatsapp_from or "default" if settings.twilio else "default",
        default_locale=settings.default_locale,
        claim_seconds=settings.claim_seconds,
    )


@dataclass
class Runtime:
    """Everything a serve, worker or chat process uses, built once and passed explicitly."""

    settings: Settings
    clock: Clock = field(default_factory=Clock)
    db: Database = field(init=False)
    flows: FlowRegistry = field(init=False)
    pipeline: Pipeline = field(init=False)
    # Channels whose provider cannot be reached now, with why (shown on /healthz); the process keeps serving.
    down: dict[str, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.db = Database(self.settings.database_url)
        self.flows = FlowRegistry()
        self.pipeline = Pipeline(self.db, self.settings, self.clock, self.flows)

    @cached_property
    def inbound(self) -> GroupCommit:
        """Where the webhooks hand inbound messages: to the pipeline in groups, one commit each."""
        return GroupCommit(self.db, self.pipeline)

    @cached_property
    def twilio(self) -> TwilioSms | None:
        """The SMS adapter, when Twilio is configured."""
        if not self.settings.twilio:
            return None
        from bot.channels.twilio_sms import TwilioSms  # noqa: PLC0415 (see the module's docstring)

        return TwilioSms(self.settings.twilio, self.settings.public_url)

    @cached_property
    def whatsapp(self) -> TwilioWhatsApp | None:
        """The WhatsApp adapter, when Twilio and a WhatsApp sender are configured."""
        if not (self.twilio and self.settings.twilio and self.settings.twilio.whatsapp_from):
            return None
        from bot.channels.twilio_whatsapp import TwilioWhatsApp  # noqa: PLC0415 (see the module's docstring)

        return TwilioWhatsApp(self.twilio, self.settings.twilio.whatsapp_from)

    @cached_property
    def telegram(self) -> TelegramChannel | None:
        """The Telegram adapter, when a bot token is configured."""
        if not self.settings.telegram:
            return None
        from bot.channels.telegram import TelegramChannel  # noqa: PLC0415 (see the module's docstring)

        return TelegramChannel(self.settings.telegram)

    @cached_property
    def worker(self) -> DeliveryWorker:
        """The delivery worker, sending through the live channels' adapters."""
        adapters: dict[Channel, ChannelAdapter] = {}
        if self.twilio and self.settings.twilio and self.settings.twilio.sms:
            adapters[Channel.SMS] = self.twilio
        if self.whatsapp:
            adapters[Channel.WHATSAPP] = self.whatsapp
        if self.telegram:
            adapters[Channel.TELEGRAM] = self.telegram
        if self.settings.simulator:
            adapters[Channel.SIMULATOR] = SimulatorChannel()
        return DeliveryWorker(self.db, adapters, self.clock, rules=send_rules(self.settings))

    @cached_property
    def storage(self) -> Storage:
        """Where the files residents send are kept (the folder or the bucket the settings name)."""
        return open_storage(self.settings.media)

    @cached_property
    def media(self) -> MediaWorker:
        """The media worker, fetching through the live channels' providers."""
        from bot.media.fetching import Fetcher, TelegramMedia, TwilioMedia  # noqa: PLC0415 (loads httpx)

        twilio = self.settings.twilio
        fetchers: dict[str, Fetcher] = {}
        if twilio:
            fetchers["sms"] = fetchers["whatsapp"] = TwilioMedia(twilio.account_sid, twilio.auth_token, twilio.api_base)
        if self.telegram:
            fetchers["telegram"] = TelegramMedia(self.telegram.file_url)
        return MediaWorker(self.db, self.storage, fetchers, self.clock, self.settings.media.max_bytes)

    def purge_media(self) -> int:
        """Delete the stored files of residents just erased (every serve and worker process also does, every 2 s)."""
        return purge(self.db, self.storage)

    async def fetch_media(self) -> None:
        """Fetch, check and store the files residents sent, and delete erased ones (a failure waits for next time)."""
        try:
            await self.media.run_once()
        except Exception as exc:  # the next run tries again; what failed for a file is kept on its row
            log.warning("media: not fetched this time (%s)", type(exc).__name__)

    def prepare(self, migrate: bool) -> None:
        """Migrate (when asked) and store the built-in flows' current versions."""
        if migrate:
            upgrade(self.db.engine)
        for attempt in range(3):
            try:
                with self.db.transaction() as session:
                    self.flows.sync_builtin(session, self.clock)
                return
            except IntegrityError:  # another process stored the same new version at the same moment
                if attempt == 2:
                    raise

    def sweep(self) -> dict[str, int]:
        """Queue what is due (event and poll reminders); safe to run in every process at once."""
        schedule = Schedule(
            self.settings.event_reminders,
            program=Program.of(self.settings),
            check_back_after=timedelta(days=self.settings.check_back_days),
        )
        with self.db.transaction() as session:
            queued = run_sweeps(session, self.clock.now(), schedule, self.flows)
        if any(queued.values()):
            log.info("sweeps queued %s", queued)
            self.wake_worker()
        return queued

    def wake_worker(self) -> None:
        """Tell this process's delivery worker that something was queued (nothing to do where none was built: a
        short command leaves the sending to the serve and worker processes, which look every 2 s)."""
        if "worker" in self.__dict__:
            self.worker.wake.set()

    def scheduler(self) -> AsyncIOScheduler:
        """APScheduler as the clock (started): it only wakes the outbox sweep and queues due reminders;
        the database is the truth, so the same jobs in several processes cannot send anything twice."""

        async def reminders() -> None:
            await self.db.run(self.sweep)

        from apscheduler.schedulers.asyncio import AsyncIOScheduler  # noqa: PLC0415 (see the module's docstring)

        clock = AsyncIOScheduler(timezone="UTC")
        clock.add_job(self.worker.wake.set, "interval", seconds=2, id="outbox", coalesce=True, max_instances=1)
        clock.add_job(reminders, "interval", seconds=60, id="reminders", coalesce=True, max_instances=1)
        clock.add_job(self.fetch_media, "interval", seconds=2, id="media", coalesce=True, max_instances=1)
        clock.start()
        return clock

    async def connect_telegram(self, *, register: bool) -> bool:
        """One attempt to reach the Telegram Bot API (and register the webhook when asked): never raises; a
        failure is one line in the log and the channel listed as down on /healthz."""
        telegram, settings = self.telegram, self.settings.telegram
        if telegram is None or settings is None:
            return False
        from telegram.error import TelegramError  # noqa: PLC0415 (loaded with the adapter above)

        try:
            await telegram.start()
            if register and settings.mode == "webhook" and self.settings.public_url:
                await telegram.register_webhook(self.settings.public_url)
        except (TelegramError, OSError) as exc:
            self.down["telegram"] = f"Bot API unreachable ({type(exc).__name__})"
            log.warning("telegram: the Bot API cannot be reached (%s); retrying with backoff", type(exc).__name__)
            return False
        if self.down.pop("telegram", None) is not None:
            log.info("telegram: connected")
        return True

    async def keep_telegram_up(
        self, updates: Callable[[dict[str, Any]], Awaitable[None]] | None, running: Callable[[], bool]
    ) -> None:
        """Retry connecting while the channel is down (1 s, 2 s, … at most a minute apart), then, in polling mode
        with an update handler, poll; SMS and everything else keep working meanwhile."""
        settings = self.settings.telegram
        delay = 1.0
        while running() and "telegram" in self.down:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)
            await self.connect_telegram(register=updates is not None)
        polling = settings is not None and settings.mode == "polling"
        if self.telegram is not None and updates is not None and polling and running():
            await self.telegram.poll(updates, running)

    def close(self) -> None:
        """Release the database connections."""
        self.db.dispose()
