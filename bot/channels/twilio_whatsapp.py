"""WhatsApp through Twilio: the same account, webhook and REST client as SMS, `whatsapp:` addresses, and approved
contents (templates, quick replies) sent by Content SID with their variables."""

from __future__ import annotations

from bot.channels.twilio_sms import WHATSAPP_PREFIX, TwilioSms
from bot.messages import Channel, Outbound, SendResult


class TwilioWhatsApp:
    """The WhatsApp channel adapter: sends through the SMS adapter's Twilio client, from the WhatsApp sender."""

    channel = Channel.WHATSAPP

    def __init__(self, twilio: TwilioSms, sender: str) -> None:
        self.twilio = twilio
        self.sender = sender

    def params(self, outbound: Outbound) -> dict[str, str]:
        """The REST API's parameters: a content and its variables when one was chosen, else the text."""
        params = {"to": WHATSAPP_PREFIX + outbound.address.value, "from_": WHATSAPP_PREFIX + self.sender}
        if outbound.content_sid:
            params["content_sid"] = outbound.content_sid
            if outbound.content_variables:
                params["content_variables"] = outbound.content_variables
        else:
            params["body"] = outbound.text
        return params

    async def send(self, outbound: Outbound) -> SendResult:
        """Send one message (the outbox already chose text, buttons or template for the 24-hour window)."""
        return await self.twilio.create(self.params(outbound))
