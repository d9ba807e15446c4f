"""Which acknowledgements a message gets: HL7 v2.5 section 2.9, MSH-15 and MSH-16.

Original mode (MSH-15 and MSH-16 both empty): one ACK, AA, AE or AR, as ever.
Enhanced mode: an accept ACK (CA/CE/CR) when MSH-15 asks for it, then an application ACK
(AA/AE/AR) when MSH-16 asks for it. The listener stores first and evaluates later, so both
are sent once the message is committed to the inbox: the application ACK is the commit
ACK, never a statement about the clinical evaluation. A message refused at accept is not
processed, so it gets no application ACK after a CE/CR; when MSH-15 asks for no accept ACK
the refusal goes in the application ACK instead. An empty field in enhanced mode asks for
nothing (NE), an unknown value for everything (AL: the sender hears about a refusal).
Table 0155: AL always, NE never, ER only on error or reject, SU only on success.
"""

from __future__ import annotations

_WHEN = {"AL": "AER", "NE": "", "ER": "ER", "SU": "A", "": ""}


def acknowledgement_codes(accept_type: str, application_type: str, outcome: str) -> list[str]:
    """The MSA-1 codes to send, in order, for an outcome "A" (accepted), "E" (error) or
    "R" (reject); empty when the sender asked for none."""
    accept_type, application_type = accept_type.upper(), application_type.upper()
    if not accept_type and not application_type:
        return ["A" + outcome]
    codes = []
    if outcome in _WHEN.get(accept_type, "AER"):
        codes.append("C" + outcome)
    if outcome in _WHEN.get(application_type, "AER") and (outcome == "A" or not codes):
        codes.append("A" + outcome)
    return codes
