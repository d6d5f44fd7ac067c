import datetime
import json

from sql import Null
from sql.conditionals import Case
from sql.aggregate import Count, Max

from trytond import backend
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.tools import grouped_slice, reduce_ids
from trytond.transaction import Transaction, without_check_access


class Conversation(ModelSQL, ModelView):
    __name__ = 'autolead.conversation'
    __string__ = "Conversation"

    subject = fields.Char("Subject", required=True)
    participants = fields.Many2Many(
        'autolead.conversation-res.user', 'conversation', 'user',
        "Participants", required=True)
    messages = fields.One2Many(
        'autolead.conversation.message', 'conversation', "Messages")
    last_message_at = fields.Function(
        fields.DateTime("Last Message"), 'get_activity')
    unread = fields.Function(
        fields.Integer(
            "Unread",
            help="Messages of others posted since you last read it."),
        'get_activity', searcher='search_unread')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('write_date', 'DESC NULLS LAST'), ('id', 'DESC')]
        cls._buttons.update({
                'mark_read': {
                    'icon': 'tryton-ok',
                    },
                })

    @classmethod
    def default_participants(cls):
        user = Transaction().user
        return [user] if user else []

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        user = Transaction().user
        if mode == 'create' and user:
            # whoever starts a conversation takes part in it
            participants = list(values.get('participants') or [])
            added = {
                i for action, *args in participants if action == 'add'
                for i in args[0]}
            if user not in added:
                participants.append(('add', [user]))
            values['participants'] = participants
        return values

    @classmethod
    def get_activity(cls, conversations, names):
        pool = Pool()
        Message = pool.get('autolead.conversation.message')
        Read = pool.get('autolead.conversation.read')
        message = Message.__table__()
        read = Read.__table__()
        cursor = Transaction().connection.cursor()
        user = Transaction().user
        result = {n: {c.id: None for c in conversations} for n in names}
        if 'unread' in result:
            result['unread'] = {c.id: 0 for c in conversations}
        for sub_ids in grouped_slice(
                [c.id for c in conversations], backend.MAX_QUERY_PARAMS):
            sub_ids = list(sub_ids)
            if 'last_message_at' in names:
                cursor.execute(*message.select(
                        message.conversation, Max(message.date),
                        where=reduce_ids(message.conversation, sub_ids),
                        group_by=[message.conversation]))
                for conversation_id, date in cursor:
                    if isinstance(date, str):
                        # SQLite returns aggregates untyped
                        date = datetime.datetime.fromisoformat(date)
                    result['last_message_at'][conversation_id] = date
            if 'unread' in names:
                join = message.join(read, 'LEFT',
                    condition=(read.conversation == message.conversation)
                    & (read.user == user))
                cursor.execute(*join.select(
                        message.conversation, Count(message.id),
                        where=reduce_ids(message.conversation, sub_ids)
                        & (message.author != user)
                        & ((read.last_read == Null)
                            | (message.id > read.last_read)),
                        group_by=[message.conversation]))
                result['unread'].update(cursor)
        return result

    @classmethod
    def search_unread(cls, name, clause):
        pool = Pool()
        Message = pool.get('autolead.conversation.message')
        Read = pool.get('autolead.conversation.read')
        conversation = cls.__table__()
        message = Message.__table__()
        read = Read.__table__()
        user = Transaction().user
        _, operator, value = clause
        Operator = fields.SQL_OPERATORS[operator]
        join = conversation.join(message, 'LEFT',
            condition=(message.conversation == conversation.id)
            & (message.author != user)
            ).join(read, 'LEFT',
                condition=(read.conversation == conversation.id)
                & (read.user == user))
        unread = Count(Case((
                    (read.last_read == Null)
                    | (message.id > read.last_read),
                    message.id)))
        query = join.select(conversation.id,
            group_by=[conversation.id],
            having=Operator(unread, value))
        return [('id', 'in', query)]

    @classmethod
    def validate_fields(cls, conversations, field_names):
        super().validate_fields(conversations, field_names)
        if 'participants' in field_names:
            for conversation in conversations:
                if len(conversation.participants) < 2:
                    raise ValidationError(gettext(
                            'autolead.msg_conversation_participants',
                            conversation=conversation.rec_name))

    @classmethod
    @ModelView.button
    def mark_read(cls, conversations):
        cls.set_read(conversations)

    @classmethod
    def set_read(cls, conversations, user=None):
        "Remember that user has seen the conversations' messages until now"
        pool = Pool()
        Read = pool.get('autolead.conversation.read')
        Message = pool.get('autolead.conversation.message')
        message = Message.__table__()
        cursor = Transaction().connection.cursor()
        user = user if user is not None else Transaction().user
        ids = [c.id for c in conversations]
        last = {}
        for sub_ids in grouped_slice(ids, backend.MAX_QUERY_PARAMS):
            cursor.execute(*message.select(
                    message.conversation, Max(message.id),
                    where=reduce_ids(message.conversation, sub_ids),
                    group_by=[message.conversation]))
            last.update(cursor)
        with without_check_access():
            existing = {r.conversation.id: r for r in Read.search([
                        ('conversation', 'in', ids),
                        ('user', '=', user),
                        ])}
            to_save = []
            for conversation in conversations:
                read = existing.get(conversation.id) or Read(
                    conversation=conversation, user=user)
                read.last_read = last.get(conversation.id)
                to_save.append(read)
            Read.save(to_save)

    def post(self, body):
        "Add a message of the current user to the conversation"
        Message = Pool().get('autolead.conversation.message')
        message, = Message.create([{
                    'conversation': self.id,
                    'body': body,
                    }])
        return message


class ConversationParticipant(ModelSQL):
    __name__ = 'autolead.conversation-res.user'
    __string__ = "Conversation Participant"

    conversation = fields.Many2One(
        'autolead.conversation', "Conversation", required=True,
        ondelete='CASCADE')
    user = fields.Many2One(
        'res.user', "User", required=True, ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.user, Index.Range())))


class ConversationMessage(ModelSQL, ModelView):
    __name__ = 'autolead.conversation.message'
    __string__ = "Conversation Message"

    conversation = fields.Many2One(
        'autolead.conversation', "Conversation", required=True,
        ondelete='CASCADE')
    author = fields.Many2One(
        'res.user', "Author", required=True, readonly=True,
        ondelete='RESTRICT')
    date = fields.DateTime("Date", required=True, readonly=True)
    body = fields.Text("Message", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('conversation')
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.conversation, Index.Range()),
                (t.date, Index.Range())))
        cls._order = [('date', 'ASC'), ('id', 'ASC')]

    @classmethod
    def default_author(cls):
        return Transaction().user or None

    @classmethod
    def default_date(cls):
        return datetime.datetime.now()

    @classmethod
    def create(cls, vlist):
        pool = Pool()
        Conversation = pool.get('autolead.conversation')
        messages = super().create(vlist)
        conversations = {m.conversation for m in messages}
        for conversation in conversations:
            Conversation.set_read([conversation])
        # Bump the conversation to the top of the lists
        Conversation.write(list(conversations), {})
        cls.notify(messages)
        return messages

    @classmethod
    def notify(cls, messages):
        "Tell the other participants in the desk"
        Notification = Pool().get('res.notification')
        notifications = []
        for message in messages:
            conversation = message.conversation
            for user in conversation.participants:
                if user == message.author:
                    continue
                notifications.append({
                        'user': user.id,
                        'label': gettext(
                            'autolead.msg_conversation_notification',
                            author=message.author.rec_name,
                            subject=conversation.subject),
                        'description': (message.body or '')[:100],
                        'icon': 'tryton-email',
                        'model': 'autolead.conversation',
                        'records': json.dumps([conversation.id]),
                        })
        if notifications:
            # Users may not create notifications for others themselves
            with without_check_access():
                Notification.create(notifications)


class ConversationRead(ModelSQL):
    __name__ = 'autolead.conversation.read'
    __string__ = "Conversation Read Mark"

    conversation = fields.Many2One(
        'autolead.conversation', "Conversation", required=True,
        ondelete='CASCADE')
    user = fields.Many2One(
        'res.user', "User", required=True, ondelete='CASCADE')
    last_read = fields.Many2One(
        'autolead.conversation.message', "Last Read", ondelete='SET NULL',
        help="The last message the user has seen.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('conversation_user_unique', Unique(t, t.conversation, t.user),
                'autolead.msg_conversation_read_unique'),
            ]
