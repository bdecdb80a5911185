"""The web side (webhooks, simulator, dashboard, public page, API); its routes name record ids as `{name:id}`."""

from starlette.convertors import register_url_convertor

from bot.web.record_ids import RecordIdConvertor

register_url_convertor("id", RecordIdConvertor())
