import datetime
import mimetypes

from trytond.i18n import gettext
from trytond.model import DeactivableMixin, Index, ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools import timezone as tz
from trytond.transaction import Transaction, without_check_access

from . import exporting
from .reporting import REPORTS, report_file, report_table

WEEKDAYS = [
    ('0', "Monday"),
    ('1', "Tuesday"),
    ('2', "Wednesday"),
    ('3', "Thursday"),
    ('4', "Friday"),
    ('5', "Saturday"),
    ('6', "Sunday"),
    ]


class ReportSchedule(DeactivableMixin, ModelSQL, ModelView):
    "A report emailed to users every day or every week"
    __name__ = 'autolead.report.schedule'
    __string__ = "Report Schedule"

    name = fields.Char("Name", required=True)
    report = fields.Selection(REPORTS, "Report", required=True, sort=False)
    format = fields.Selection([
            ('xlsx', "Excel"),
            ('csv', "CSV"),
            ], "Format", required=True, sort=False,
        help="The format of the file attached to the email.")
    frequency = fields.Selection([
            ('daily', "Daily"),
            ('weekly', "Weekly"),
            ], "Frequency", required=True, sort=False)
    covers = fields.Selection([
            ('today', "The Day of Sending"),
            ('tomorrow', "The Next Day"),
            ('week', "The Seven Days up to Sending"),
            ], "Covers", required=True, sort=False,
        help="The period of the report, e.g. the next day for tomorrow's "
        "confirmed demos.")
    weekday = fields.Selection(
        WEEKDAYS, "Day of the Week", sort=False,
        states={
            'invisible': Eval('frequency') != 'weekly',
            'required': Eval('frequency') == 'weekly',
            })
    time = fields.Time(
        "Time", required=True,
        help="The time of day when the report is sent, in the timezone of "
        "the automation configuration.")
    recipients = fields.Many2Many(
        'autolead.report.schedule-res.user', 'schedule', 'user',
        "Recipients",
        help="The report is computed as each recipient sees it.")
    last_sent = fields.DateTime("Last Sent", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('name', 'ASC'))
        cls._buttons.update({
                'send_now': {
                    'icon': 'tryton-email',
                    },
                })

    @classmethod
    def default_format(cls):
        return 'xlsx'

    @classmethod
    def default_frequency(cls):
        return 'daily'

    @classmethod
    def default_covers(cls):
        return 'today'

    @classmethod
    def default_weekday(cls):
        return '0'

    @classmethod
    def default_time(cls):
        return datetime.time(19, 0)

    def due_at(self, now):
        "The moment of the last sending due at or before now"
        Configuration = Pool().get('autolead.automation.configuration')
        configuration = Configuration(1)
        for days in range(8):
            moment = configuration.local_time_at(
                now - datetime.timedelta(days=days), self.time)
            if moment > now:
                continue
            if (self.frequency == 'weekly'
                    and self._local_date(moment).weekday()
                    != int(self.weekday)):
                continue
            return moment

    @staticmethod
    def _local_date(moment):
        Configuration = Pool().get('autolead.automation.configuration')
        configuration = Configuration(1)
        zone = (tz.get_tzinfo(configuration.timezone)
            if configuration.timezone else tz.SERVER)
        return moment.replace(tzinfo=tz.UTC).astimezone(zone).date()

    def report_context(self, due):
        day = self._local_date(due)
        from_date, to_date = {
            'today': (day, day),
            'tomorrow': (day + datetime.timedelta(days=1),) * 2,
            'week': (day - datetime.timedelta(days=6), day),
            }[self.covers]
        return {
            'from_date': from_date,
            'to_date': to_date,
            'period': 'day',
            }

    @classmethod
    def send_due(cls, now=None):
        "Send the reports whose time has come since they were last sent"
        if now is None:
            now = datetime.datetime.now()
        to_send = []
        for schedule in cls.search([]):
            due = schedule.due_at(now)
            # A new schedule does not send what fell due before it existed
            last_sent = schedule.last_sent or schedule.create_date
            if due and last_sent < due:
                to_send.append((schedule, due))
        for schedule, due in to_send:
            schedule.send(due)
        cls.save([s for s, _ in to_send])

    @classmethod
    @ModelView.button
    def send_now(cls, schedules):
        now = datetime.datetime.now()
        for schedule in schedules:
            schedule.send(now)
        cls.save(schedules)

    def send(self, due):
        "Queue the report for each recipient as they see it"
        pool = Pool()
        Message = pool.get('autolead.automation.message')
        Attachment = pool.get('ir.attachment')
        context = self.report_context(due)
        attachments, pending = [], []
        for user in self.recipients:
            with Transaction().set_user(user.id), \
                    Transaction().set_context(_check_access=True):
                table = report_table(self.report, context)
                filename, content = report_file(
                    self.report, self.format, context, table=table)
            title, headers, rows = table
            with without_check_access():
                messages = Message.post([{
                            'key': (f'report-schedule-{self.id}'
                                f'-{due:%Y%m%dT%H%M}-{user.id}'),
                            'origin': str(self),
                            'user': user.id,
                            'to': user.email,
                            'subject': gettext(
                                'autolead.msg_report_schedule_subject',
                                report=title, name=self.name,
                                date=context['to_date']),
                            'body': gettext(
                                'autolead.msg_report_schedule_body',
                                report=title,
                                from_date=context['from_date'],
                                to_date=context['to_date'],
                                table=exporting.to_text(headers, rows)),
                            }], queue=False)
            for message in messages:
                attachments.append({
                        'resource': str(message),
                        'name': filename,
                        'type': 'data',
                        'data': content,
                        })
                if message.state == 'pending':
                    pending.append(message)
        if attachments:
            with without_check_access():
                Attachment.create(attachments)
        if pending:
            Message.__queue__.send(pending)
        self.last_sent = due


class ReportScheduleUser(ModelSQL):
    __name__ = 'autolead.report.schedule-res.user'
    __string__ = "Report Schedule Recipient"

    schedule = fields.Many2One(
        'autolead.report.schedule', "Schedule", required=True,
        ondelete='CASCADE')
    user = fields.Many2One(
        'res.user', "User", required=True, ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.schedule, Index.Range())))


class Message(metaclass=PoolMeta):
    __name__ = 'autolead.automation.message'

    @classmethod
    def _get_origins(cls):
        return super()._get_origins() + ['autolead.report.schedule']

    def _email_message(self):
        "Attach the files attached to the message in the desk"
        Attachment = Pool().get('ir.attachment')
        msg = super()._email_message()
        for attachment in Attachment.search([
                    ('resource', '=', str(self)),
                    ('type', '=', 'data'),
                    ], order=[('id', 'ASC')]):
            mimetype, _ = mimetypes.guess_type(attachment.name)
            maintype, subtype = (
                mimetype or 'application/octet-stream').split('/', 1)
            msg.add_attachment(
                attachment.data, maintype=maintype, subtype=subtype,
                filename=attachment.name)
        return msg


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('autolead.report.schedule|send_due', "Send Scheduled Reports"))
