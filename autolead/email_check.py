"""Email validation that can run without DNS.

Tryton checks that the domain of an email address accepts mail, which needs
DNS. A machine without it (a demo laptop, a closed network) sets
`[autolead] check_email_deliverability = False` and keeps the syntax check.
"""
from trytond.config import config
from trytond.i18n import gettext
from trytond.model.exceptions import ValidationError

from .normalize import InvalidEmail, normalize_email


def deliverability_checked():
    return config.getboolean(
        'autolead', 'check_email_deliverability', default=True)


class SyntaxOnlyEmailMixin:
    __slots__ = ()
    _email_fields = ('email',)

    @classmethod
    def check_valid_email(cls, records, field_names=None):
        if deliverability_checked():
            return super().check_valid_email(records, field_names)
        if field_names and not (set(field_names) & set(cls._email_fields)):
            return
        for record in records:
            address = cls._email_to_check(record)
            if not address:
                continue
            try:
                normalize_email(address)
            except InvalidEmail as exception:
                raise ValidationError(gettext(
                        'autolead.msg_email_invalid',
                        email=address, record=record.rec_name),
                    str(exception)) from exception

    @classmethod
    def _email_to_check(cls, record):
        return record.email
