"One timeline of everything that happened to a lead"
from sql import Cast, Literal, Null
from sql.operators import Concat

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool

# what each source contributes: (kind, model, date column, user column)
SOURCES = [
    ('change', 'autolead.lead.history', 'date', 'user'),
    ('note', 'autolead.lead.note', 'date', 'author'),
    ('interaction', 'autolead.lead.interaction', 'date', 'user'),
    ('call', 'autolead.call', 'create_date', 'caller'),
    ('appointment', 'autolead.appointment', 'start', 'organizer'),
    ('task', 'autolead.task', 'create_date', 'assignee'),
    ]


class Timeline(ModelSQL, ModelView):
    "What happened to a lead: changes, notes, calls, emails, meetings, tasks"
    __name__ = 'autolead.lead.timeline'
    __string__ = "Lead Timeline"

    lead = fields.Many2One(
        'autolead.lead', "Lead", required=True, readonly=True)
    date = fields.DateTime("Date", readonly=True)
    user = fields.Many2One('res.user', "By", readonly=True)
    kind = fields.Selection([
            ('change', "Change"),
            ('note', "Note"),
            ('interaction', "Contact"),
            ('call', "Call"),
            ('appointment', "Appointment"),
            ('task', "Task"),
            ], "What", readonly=True, sort=False)
    origin = fields.Reference(
        "Record", selection='get_origins', readonly=True)
    description = fields.Function(
        fields.Char("Description"), 'get_description')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('lead')
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def get_origins(cls):
        Model = Pool().get('ir.model')
        return [(None, '')] + [
            (m, Model.get_name(m)) for _, m, _, _ in SOURCES]

    @classmethod
    def table_query(cls):
        pool = Pool()
        queries = []
        for position, (kind, model, date, user) in enumerate(SOURCES):
            table = pool.get(model).__table__()
            queries.append(table.select(
                    # unique across the sources, stable for a record
                    (table.id * len(SOURCES) + position).as_('id'),
                    table.lead.as_('lead'),
                    getattr(table, date).as_('date'),
                    getattr(table, user).as_('user'),
                    Literal(kind).as_('kind'),
                    Concat(model + ',', Cast(table.id, 'VARCHAR')
                        ).as_('origin'),
                    table.create_uid.as_('create_uid'),
                    table.create_date.as_('create_date'),
                    table.write_uid.as_('write_uid'),
                    table.write_date.as_('write_date'),
                    where=table.lead != Null))
        union = queries[0]
        for query in queries[1:]:
            union = union | query
        union.all_ = True
        return union.select()

    @classmethod
    def get_description(cls, lines, name):
        descriptions = {}
        for line in lines:
            origin = line.origin
            describe = getattr(cls, f'_describe_{line.kind}')
            descriptions[line.id] = describe(origin) if origin else ''
        return descriptions

    @staticmethod
    def _describe_change(history):
        if not history.field:
            return gettext('autolead.msg_timeline_created')
        return gettext('autolead.msg_timeline_change',
            field=_string(history, 'field'),
            old=history.old_value or '-', new=history.new_value or '-')

    @staticmethod
    def _describe_note(note):
        return _first_line(note.text)

    @staticmethod
    def _describe_interaction(interaction):
        summary = _first_line(interaction.summary)
        return ' — '.join(filter(None, [
                    f"{_string(interaction, 'type')} "
                    f"({_string(interaction, 'direction').lower()})",
                    _string(interaction, 'outcome'), summary]))

    @staticmethod
    def _describe_call(call):
        return ' — '.join(filter(None, [
                    call.subject, _string(call, 'state'),
                    _string(call, 'outcome')]))

    @staticmethod
    def _describe_appointment(appointment):
        return ' — '.join(filter(None, [
                    appointment.name, _string(appointment, 'kind'),
                    _string(appointment, 'state')]))

    @staticmethod
    def _describe_task(task):
        return ' — '.join(filter(None, [task.name, _string(task, 'state')]))


def _string(record, name):
    "The text the user sees for the value of a selection field"
    field = record._fields[name]
    value = getattr(record, name)
    if value is None or value == '':
        return ''
    selection = field.get_selection(record.__class__, name, record)
    return field.get_selection_string(selection, value)


def _first_line(text, length=120):
    line = (text or '').strip().split('\n', 1)[0]
    return line if len(line) <= length else line[:length - 1] + '…'
