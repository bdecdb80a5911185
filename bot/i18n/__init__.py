"""Languages: gettext catalogs, locale negotiation, Babel formatting and the flow-file extractor."""
