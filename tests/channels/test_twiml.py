"""Our TwiML writer writes exactly what twilio's own MessagingResponse writes, for any replies."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twilio.twiml.messaging_response import MessagingResponse

from bot.channels.twilio_sms import TwilioSms

# Any text a reply can hold: every plane, markup characters, quotes, line breaks (XML forbids most C0 controls in
# a document whichever writer writes it; neither writer removes them, so they are left to the rest of the suite).
TEXTS = st.text(
    st.characters(
        blacklist_categories=("Cs",), blacklist_characters=[chr(c) for c in range(32) if c not in (9, 10, 13)]
    )
)


def library(texts: list[str]) -> str:
    response = MessagingResponse()
    for text in texts:
        response.message(text)
    return str(response.to_xml(xml_declaration=True))


@given(
    st.lists(TEXTS | st.sampled_from(["<b>&amp;</b>", 'He said "hi" & left', "a]]>b", "\r\n", "٣ العربية"]), max_size=3)
)
def test_the_same_document_as_twilio_writes(texts: list[str]) -> None:
    assert TwilioSms.twiml(texts) == library(texts)
