"""This corpus's own sentence templates: ``{pii}`` is the planted entity, ``{look}`` a look-alike."""

from __future__ import annotations

TEMPLATES = {
    "en": [
        "Hi team, please reach the customer at {pii} about order {look}.",
        "Forwarding the ticket: contact {pii} (opened {look}).",
        "My details for the refund of {look}: {pii}",
        "{pii} is on file; the invoice dated {look} is still open.",
        "Can you update the record? New value is {pii}, ref {look}.",
        "Per our call on {look}, you can use {pii} from now on.",
        "Log line {look} user={pii} status=ok",
        "Note to self - {pii} - renew before {look}",
        "The shipment {look} was booked by someone giving {pii} as contact.",
        "Please do not share {pii} outside the team; build {look} is fine to share.",
        "\"{pii}\" was entered in the form at {look}",
        "Customer says: my number/details are {pii}; tracking {look}",
    ],
    "fr": [
        "Bonjour, vous pouvez me joindre au {pii}, commande {look}.",
        "Merci de noter {pii} pour le dossier du {look}.",
        "Coordonnées du client : {pii} (facture {look})",
    ],
    "de": [
        "Hallo, bitte kontaktieren Sie mich unter {pii} wegen Bestellung {look}.",
        "Für die Rückerstattung vom {look} gilt: {pii}",
        "Neue Angaben im System: {pii}, Vorgang {look}.",
    ],
    "es": [
        "Hola, mi contacto es {pii}, pedido {look}.",
        "Por favor actualice el dato: {pii} (factura del {look}).",
        "Llámame o escríbeme: {pii}. Referencia {look}.",
    ],
    "it": [
        "Buongiorno, potete contattarmi al {pii} per l'ordine {look}.",
        "Dati aggiornati: {pii}, pratica {look}.",
    ],
    "nl": [
        "Hoi, je kunt me bereiken op {pii} over bestelling {look}.",
        "Gegevens klant: {pii} (factuur {look})",
    ],
    "pt": [
        "Olá, meu contato é {pii}, pedido {look}.",
        "Por favor registrar {pii} no cadastro; protocolo {look}.",
    ],
    "ja": [
        "お問い合わせ先は{pii}です。注文番号{look}。",
        "連絡先：{pii}（受付日 {look}）",
    ],
    "pl": ["Dzień dobry, mój kontakt to {pii}, zamówienie {look}."],
    "sv": ["Hej, du når mig på {pii} angående order {look}."],
    "da": ["Hej, du kan kontakte mig på {pii} om ordre {look}."],
    "no": ["Hei, du når meg på {pii} om bestilling {look}."],
    "fi": ["Hei, tavoitat minut {pii}, tilaus {look}."],
}

PHRASES = {
    "en": [
        "Order {look} ships next week.",
        "Total due: {look}.",
        "Deployed version {look} to staging.",
        "The event happened at {look}.",
        "Your parcel {look} is out for delivery.",
        "See the appendix ({look}) for details.",
        "Meeting moved to {look}, same room.",
        "Reference: {look}",
    ],
    "fr": ["Votre colis {look} arrive demain.", "Montant total : {look}.", "Réunion le {look}."],
    "de": ["Ihre Sendung {look} ist unterwegs.", "Gesamtbetrag: {look}.", "Termin am {look}."],
    "es": ["Su paquete {look} llega mañana.", "Importe total: {look}.", "Reunión el {look}."],
    "it": ["Il pacco {look} è in consegna.", "Totale: {look}."],
    "ja": ["荷物{look}は配達中です。", "合計金額：{look}。"],
}

# keyword a checksum-weak id needs before it (as a person writes it)
LABELS = {
    "GB_NHS": {"en": "NHS number"},
    "DE_IDNR": {"de": "Steuer-ID", "en": "tax id"},
}


def label_for(entity_type: str, lang: str) -> str:
    labels = LABELS.get(entity_type)
    if not labels:
        return ""
    return labels.get(lang) or labels["en"]
