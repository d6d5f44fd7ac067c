"""The files Auto Lead accepts as attachments, in the desk and the portal.

One check for both: the extension must be in the administrator's list, the
content must look like what the extension says (the few formats with a
signature, and text that is text), and the file must not exceed the size
limit. The desk's attachments on Auto Lead records are checked when a user
adds or renames them; the portal checks its uploads before they are stored.
"""
import os

from trytond.i18n import gettext
from trytond.model import fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access

DEFAULT_EXTENSIONS = (
    'pdf png jpg jpeg gif webp txt csv log '
    'doc docx xls xlsx ppt pptx odt ods odp')
DEFAULT_SIZE = 5
IMAGES = {'png', 'jpg', 'jpeg', 'gif', 'webp'}
TEXTS = {'txt', 'csv', 'log'}
ZIP = (b'PK\x03\x04',)
OLE = (b'\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1',)
SIGNATURES = {
    'png': (b'\x89PNG\r\n\x1a\n',),
    'jpg': (b'\xff\xd8\xff',),
    'jpeg': (b'\xff\xd8\xff',),
    'gif': (b'GIF87a', b'GIF89a'),
    'pdf': (b'%PDF-',),
    'docx': ZIP, 'xlsx': ZIP, 'pptx': ZIP,
    'odt': ZIP, 'ods': ZIP, 'odp': ZIP,
    'doc': OLE, 'xls': OLE, 'ppt': OLE,
    }


def parse_extensions(value):
    "The set of extensions (lower case, without dot) listed in value"
    return {e.strip().lstrip('.').lower()
        for e in (value or '').replace(',', ' ').split() if e.strip('.')}


def _configuration():
    Configuration = Pool().get('autolead.configuration')
    with without_check_access():
        return Configuration(1)


def allowed_extensions():
    "The extensions the administrator accepts"
    return parse_extensions(_configuration().attachment_extensions)


def size_limit():
    "The largest attachment accepted, in bytes"
    return (_configuration().attachment_size or DEFAULT_SIZE) * 1024 * 1024


def human_size(size):
    for unit in ['bytes', 'KB', 'MB']:
        if size < 1024 or unit == 'MB':
            return f'{size:.0f} {unit}' if unit == 'bytes' \
                else f'{size:.1f} {unit}'
        size /= 1024


def extension(name):
    return os.path.splitext(name or '')[1].lower().lstrip('.')


def looks_like(extension, data):
    "Whether data has the content its extension announces"
    if extension in SIGNATURES:
        return data.startswith(SIGNATURES[extension])
    if extension == 'webp':
        return data[:4] == b'RIFF' and data[8:12] == b'WEBP'
    if extension in TEXTS:
        if b'\x00' in data:
            return False
        try:
            data.decode('utf-8')
        except UnicodeDecodeError:
            return False
    return True


def refusal(name, data, allowed=None, limit=None):
    """Why the file called name holding data is refused, or None.

    allowed narrows the administrator's extensions (the portal's picture
    takes images only), limit lowers the size limit."""
    extensions = allowed_extensions()
    if allowed is not None:
        extensions &= set(allowed)
    largest = size_limit()
    if limit is not None:
        largest = min(largest, limit)
    if len(data) > largest:
        return gettext('autolead.msg_attachment_too_big',
            name=name, size=human_size(largest))
    ext = extension(name)
    if ext not in extensions or not looks_like(ext, data):
        return gettext('autolead.msg_attachment_type',
            name=name, types=', '.join(sorted(extensions)))


class Configuration(metaclass=PoolMeta):
    __name__ = 'autolead.configuration'

    attachment_extensions = fields.Char(
        "Attachment Types", required=True,
        help="The file extensions accepted as attachments in the desk and "
        "the portal, separated by spaces (e.g. pdf png docx).")
    attachment_size = fields.Integer(
        "Attachment Size Limit (MB)", required=True,
        domain=[('attachment_size', '>', 0)],
        help="The largest file accepted as an attachment.")

    @classmethod
    def default_attachment_extensions(cls):
        return DEFAULT_EXTENSIONS

    @classmethod
    def default_attachment_size(cls):
        return DEFAULT_SIZE


class Attachment(metaclass=PoolMeta):
    __name__ = 'ir.attachment'

    @classmethod
    def create(cls, vlist):
        attachments = super().create(vlist)
        cls.check_file(attachments)
        return attachments

    @classmethod
    def write(cls, *args):
        super().write(*args)
        actions = iter(args)
        changed = []
        for attachments, values in zip(actions, actions):
            if values.keys() & {'name', 'data', 'type', 'resource'}:
                changed.extend(attachments)
        cls.check_file(changed)

    @classmethod
    def check_file(cls, attachments):
        """Refuse the files a user attaches to Auto Lead records that the
        rules do not accept; the portal checks its uploads itself"""
        # validation runs without access checks: tell a user's call here
        if not Transaction().check_access:
            return
        with without_check_access():
            for attachment in cls.browse(attachments):
                resource = attachment.resource
                if (attachment.type != 'data'
                        or resource is None
                        or not resource.__name__.startswith('autolead.')):
                    continue
                reason = refusal(attachment.name, attachment.data or b'')
                if reason:
                    raise ValidationError(reason)
