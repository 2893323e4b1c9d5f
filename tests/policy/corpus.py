"""A generated corpus: planted PII of several kinds and formats, mixed with decoys.

Deterministic (seeded). Each document is a list of (text, label) segments; the
label is the expected entity type or None for filler and decoys.
"""

from __future__ import annotations

import random
import string
import uuid

import phonenumbers
from phonenumbers import PhoneNumberFormat
from stdnum import iban as stdnum_iban
from stdnum.us import ssn as stdnum_ssn

from llm_mesh.policy.detectors.base import luhn_ok

CARD_PREFIXES = {
    "visa": (["4"], [16, 13, 19]),
    "mastercard": (["51", "52", "53", "54", "55", "2221", "2720", "2500"], [16]),
    "amex": (["34", "37"], [15]),
    "discover": (["6011", "65", "644"], [16]),
    "jcb": (["3528", "3589"], [16]),
    "diners": (["36", "300"], [14]),
    "unionpay": (["62"], [16]),
}


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for d in string.digits:
        if luhn_ok(body + d):
            return body + d
    raise AssertionError("unreachable")


def fmt_card(num: str, rng: random.Random) -> str:
    style = rng.choice(["plain", "space", "dash"])
    if style == "plain":
        return num
    sep = " " if style == "space" else "-"
    if len(num) == 15:
        groups = [num[:4], num[4:10], num[10:]]
    elif len(num) == 14:
        groups = [num[:4], num[4:10], num[10:]]
    else:
        groups = [num[i : i + 4] for i in range(0, len(num), 4)]
    return sep.join(groups)


def gen_card(rng: random.Random) -> str:
    brand = rng.choice(sorted(CARD_PREFIXES))
    prefixes, lengths = CARD_PREFIXES[brand]
    return fmt_card(luhn_complete(rng.choice(prefixes), rng.choice(lengths), rng), rng)


def gen_bad_card(rng: random.Random) -> str:
    """A card-shaped number with a wrong Luhn digit."""
    num = luhn_complete("4", 16, rng)
    bad = num[:-1] + str((int(num[-1]) + rng.randint(1, 9)) % 10)
    return fmt_card(bad, rng)


FIRST = ["john", "maria", "li", "ahmed", "olga", "pierre", "anna", "k", "dev-ops", "j.smith"]
DOMAINS = ["example.com", "mail.example.org", "corp.co.uk", "exemple.fr", "beispiel.de", "uni.edu"]


def gen_email(rng: random.Random) -> str:
    local = rng.choice(FIRST) + rng.choice(["", ".", "_", "+tag", "99", "-x"]) + rng.choice(["", "doe", "7"])
    local = local.strip("._-+") or "a"
    return f"{local}@{rng.choice(DOMAINS)}"


PHONE_REGIONS = ["US", "GB", "FR", "DE"]


def gen_phone(rng: random.Random) -> str:
    region = rng.choice(PHONE_REGIONS)
    ptype = rng.choice([phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE])
    example = phonenumbers.example_number_for_type(region, ptype)
    for _ in range(200):
        nsn = str(example.national_number)
        digits = list(nsn)
        # perturb the last digits, keep the number valid
        for i in range(max(3, len(digits) - 4), len(digits)):
            digits[i] = rng.choice(string.digits)
        num = phonenumbers.parse("+" + str(example.country_code) + "".join(digits), None)
        if phonenumbers.is_valid_number(num):
            break
    else:
        num = example
    style = rng.choice(["intl", "national", "e164", "dots"])
    if style == "intl":
        return phonenumbers.format_number(num, PhoneNumberFormat.INTERNATIONAL)
    if style == "e164":
        return phonenumbers.format_number(num, PhoneNumberFormat.E164)
    national = phonenumbers.format_number(num, PhoneNumberFormat.NATIONAL)
    if style == "dots" and region in ("US", "FR"):
        return national.replace("(", "").replace(") ", ".").replace("-", ".").replace(" ", ".")
    return national


IBAN_COUNTRIES = {
    "DE": "370400440532013000",
    "FR": "20041010050500013M02606",
    "GB": "WEST12345698765432",
    "ES": "21000418450200051332",
    "IT": "X0542811101000000123456",
    "NL": "ABNA0417164300",
    "BE": "539007547034",
}


def gen_iban(rng: random.Random) -> str:
    cc = rng.choice(sorted(IBAN_COUNTRIES))
    bban = list(IBAN_COUNTRIES[cc])
    # randomise the account digits at the end, then compute the check digits
    for i in range(len(bban) - 6, len(bban)):
        if bban[i].isdigit():
            bban[i] = rng.choice(string.digits)
    bban_s = "".join(bban)
    value = cc + stdnum_iban.calc_check_digits(cc + "00" + bban_s) + bban_s
    if not stdnum_iban.is_valid(value):
        return gen_iban(rng)
    if rng.random() < 0.5:
        return stdnum_iban.format(value)
    return value


def gen_ssn(rng: random.Random) -> str:
    while True:
        v = f"{rng.randint(1, 899):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
        if stdnum_ssn.is_valid(v):
            return v


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


ALNUM = string.ascii_letters + string.digits


def gen_aws_key(rng: random.Random) -> str:
    return rng.choice(["AKIA", "ASIA"]) + _rand(rng, string.ascii_uppercase + "234567", 16)


def gen_openai_key(rng: random.Random) -> str:
    return rng.choice(["sk-", "sk-proj-"]) + _rand(rng, ALNUM, 48)


def gen_github_token(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return "ghp_" + _rand(rng, ALNUM, 36)
    return "github_pat_" + _rand(rng, ALNUM, 22) + "_" + _rand(rng, ALNUM, 59)


GENERATORS = {
    "CREDIT_CARD": gen_card,
    "EMAIL": gen_email,
    "PHONE": gen_phone,
    "IBAN": gen_iban,
    "US_SSN": gen_ssn,
    "AWS_ACCESS_KEY_ID": gen_aws_key,
    "OPENAI_API_KEY": gen_openai_key,
    "GITHUB_TOKEN": gen_github_token,
}

LEADS = {
    "CREDIT_CARD": ["my card is {}", "pay with {} please", "card number: {}", "{} (exp 12/27)"],
    "EMAIL": ["write to {}", "contact: {}", "<{}>", "from {} today"],
    "PHONE": ["call {}", "phone: {}", "reach me on {} tomorrow", "tel {}"],
    "IBAN": ["IBAN {}", "transfer to {} now", "account: {}"],
    "US_SSN": ["SSN {}", "my social is {}", "ssn: {}."],
    "AWS_ACCESS_KEY_ID": ["aws_access_key_id = {}", "key {} leaked", "export AWS_ACCESS_KEY_ID={}"],
    "OPENAI_API_KEY": ["OPENAI_API_KEY={}", "use {} for the call", "api key: {}"],
    "GITHUB_TOKEN": ["token {}", "GH_TOKEN={}", "git clone https://{}@github.com/org/repo"],
}


def gen_decoy(rng: random.Random) -> str:
    kind = rng.choice(
        ["bad_card", "order", "date", "version", "price", "isbn", "uuid", "time", "zip", "tracking", "float", "year"]
    )
    if kind == "bad_card":
        return f"reference {gen_bad_card(rng)}"
    if kind == "order":
        return f"order #{rng.randint(10**6, 10**9)}"
    if kind == "date":
        return rng.choice(["on {:04d}-{:02d}-{:02d}", "on {2:02d}/{1:02d}/{0:04d}", "on {2}.{1}.{0}"]).format(
            rng.randint(1990, 2030), rng.randint(1, 12), rng.randint(1, 28)
        )
    if kind == "version":
        return f"version {rng.randint(0, 20)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}"
    if kind == "price":
        return f"costs ${rng.randint(1, 99)},{rng.randint(100, 999)}.{rng.randint(10, 99)}"
    if kind == "isbn":
        return rng.choice(["ISBN 978-3-16-148410-0", "ISBN 978-0-306-40615-7", "isbn 9780306406157"])
    if kind == "uuid":
        return f"id {uuid.UUID(int=rng.getrandbits(128))}"
    if kind == "time":
        return f"at {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    if kind == "zip":
        return f"zip {rng.randint(10000, 99999)}"
    if kind == "tracking":
        return f"tracking 1Z{_rand(rng, string.ascii_uppercase + string.digits, 16)}"
    if kind == "float":
        return f"pi is {rng.random() * 1000:.10f}"
    return f"in {rng.randint(1900, 2100)} we had {rng.randint(2, 500)} staff"


FILLER = [
    "Please summarise the meeting notes.",
    "The customer asked about the refund policy.",
    "Thanks for your help with the migration!",
    "Revenue grew 12% in Q3 across 4 regions.",
    "Let me know if anything else is needed.",
]


def make_corpus(seed: int = 7, docs: int = 300, per_doc: int = 6):
    """Return [(text, [(start, end, type), ...]), ...]."""
    rng = random.Random(seed)
    out = []
    types = sorted(GENERATORS)
    for _ in range(docs):
        parts: list[str] = []
        truth = []
        pos = 0
        for _ in range(per_doc):
            choice = rng.random()
            if choice < 0.5:
                etype = rng.choice(types)
                value = GENERATORS[etype](rng)
                lead = rng.choice(LEADS[etype])
                before, after = lead.split("{}")
                seg = before + value + after
                truth.append((pos + len(before), pos + len(before) + len(value), etype))
            elif choice < 0.85:
                seg = gen_decoy(rng)
            else:
                seg = rng.choice(FILLER)
            parts.append(seg)
            pos += len(seg)
            sep = rng.choice([" ", ". ", "\n", ", "])
            parts.append(sep)
            pos += len(sep)
        out.append(("".join(parts), truth))
    return out
