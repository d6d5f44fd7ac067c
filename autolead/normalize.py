"""Normalisation of the contact data people type into leads.

Plain Python, no Tryton: the same functions serve the desk, the import and
the capture routes, so a duplicate is recognised whichever way it came in.
"""
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
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exception:
        raise InvalidPhone(str(exception)) from exception
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhone(value)
    return phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.E164)


def normalize_company(value):
    "Return a key under which spellings of the same company meet"
    if not value:
        return None
    key = _COMPANY_SUFFIXES.sub(' ', value.lower())
    key = _NOT_WORD.sub('', key)
    return key or None
