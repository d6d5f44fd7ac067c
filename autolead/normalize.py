"""Normalisation of the contact data people type into leads.

Plain Python, no Tryton: the same functions serve the desk, the import and
the capture routes, so a duplicate is recognised whichever way it came in.
"""
import functools
import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

__all__ = [
    'InvalidEmail', 'InvalidPhone',
    'normalize_email', 'normalize_phone', 'normalize_company']

DEFAULT_REGION = 'IN'
_COMPANY_SUFFIXES = re.compile(
    r'\b(inc|incorporated|ltd|limited|llc|llp|gmbh|sa|sas|sarl|bv|nv|plc|'
    r'pvt|private|co|corp|corporation|company)\b\.?')
_NOT_WORD = re.compile(r'[^0-9a-z]+')
# An Indian mobile number as people write it: +91, 0 or nothing in front of
# ten digits starting with 6-9; phonenumbers gives +91 and the ten digits
_INDIAN_MOBILE = re.compile(r'(?:\+91|0)?([6-9][0-9]{9})')
_SEPARATORS = str.maketrans('', '', ' -.')
# what people put in a phone number besides digits; phonenumbers would read
# letters as a keypad's (121abc: 121222), which turns a typo into a number
_PHONE_CHARACTERS = re.compile(r'[0-9+\-.()/\s]+')


class InvalidEmail(ValueError):
    pass


class InvalidPhone(ValueError):
    pass


def normalize_email(value):
    "Return the canonical form of an email address or raise InvalidEmail"
    if not value or not value.strip():
        return None
    try:
        info = validate_email(
            value.strip(), check_deliverability=False,
            test_environment=True)
    except EmailNotValidError as exception:
        raise InvalidEmail(str(exception)) from exception
    return info.normalized.lower()


def normalize_phone(value, region=DEFAULT_REGION):
    "Return the E.164 form of a phone number or raise InvalidPhone"
    if not value or not value.strip():
        return None
    if not _PHONE_CHARACTERS.fullmatch(value):
        raise InvalidPhone(value)
    if region == 'IN':
        # parsing is most of the cost of an import: skip it for the form
        # nearly every row of an Indian file has
        match = _INDIAN_MOBILE.fullmatch(value.translate(_SEPARATORS))
        if match:
            return '+91' + match.group(1)
    return _parse_phone(value, region)


@functools.lru_cache(maxsize=65536)
def _parse_phone(value, region):
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exception:
        raise InvalidPhone(str(exception)) from exception
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhone(value)
    return phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=65536)
def normalize_company(value):
    "Return a key under which spellings of the same company meet"
    if not value:
        return None
    key = _COMPANY_SUFFIXES.sub(' ', value.lower())
    key = _NOT_WORD.sub('', key)
    return key or None
