/* Auto Lead chatbot: add <script src="/<database>/chatbot/widget.js" defer>
 * to a page. The portal's session cookie is sent along, so signed-in
 * customers get answers about their own tickets. No dependencies. */
(function () {
    'use strict';
    var settings = __AUTOLEAD_CHATBOT__;
    if (document.getElementById('autolead-chatbot')) {
        return;
    }
    var css = [
        '#autolead-chatbot,#autolead-chatbot *{box-sizing:border-box;}',
        '#autolead-chatbot{position:fixed;right:1rem;bottom:1rem;z-index:9999;',
        'font:14px/1.4 system-ui,sans-serif;}',
        '#autolead-chatbot button.al-open{border:0;border-radius:2rem;',
        'padding:.7rem 1.1rem;background:#1b5e9e;color:#fff;cursor:pointer;}',
        '#autolead-chatbot .al-box{display:none;width:20rem;max-width:90vw;',
        'background:#fff;border:1px solid #ccc;border-radius:.5rem;',
        'box-shadow:0 4px 16px rgba(0,0,0,.2);}',
        '#autolead-chatbot.al-shown .al-box{display:block;}',
        '#autolead-chatbot.al-shown button.al-open{display:none;}',
        '#autolead-chatbot header{padding:.5rem .8rem;background:#1b5e9e;',
        'color:#fff;border-radius:.5rem .5rem 0 0;display:flex;',
        'justify-content:space-between;}',
        '#autolead-chatbot header button{background:none;border:0;color:#fff;',
        'cursor:pointer;font-size:1.1rem;}',
        '#autolead-chatbot .al-log{height:16rem;overflow-y:auto;padding:.5rem;}',
        '#autolead-chatbot .al-msg{margin:.3rem 0;padding:.4rem .6rem;',
        'border-radius:.4rem;white-space:pre-wrap;}',
        '#autolead-chatbot .al-you{background:#e8f0fa;margin-left:2rem;}',
        '#autolead-chatbot .al-bot{background:#f2f2f2;margin-right:2rem;}',
        '#autolead-chatbot form{display:flex;border-top:1px solid #ddd;}',
        '#autolead-chatbot input{flex:1;min-width:0;border:0;padding:.6rem;}',
        '#autolead-chatbot form button{border:0;background:#1b5e9e;color:#fff;',
        'padding:0 .8rem;cursor:pointer;}'
    ].join('');
    var style = document.createElement('style');
    style.textContent = css;
    document.head.appendChild(style);

    var root = document.createElement('div');
    root.id = 'autolead-chatbot';
    var open = document.createElement('button');
    open.className = 'al-open';
    open.type = 'button';
    open.textContent = settings.texts.title;
    var box = document.createElement('div');
    box.className = 'al-box';
    box.setAttribute('role', 'dialog');
    box.setAttribute('aria-label', settings.texts.title);
    var header = document.createElement('header');
    var title = document.createElement('span');
    title.textContent = settings.texts.title;
    var close = document.createElement('button');
    close.type = 'button';
    close.setAttribute('aria-label', 'Close');
    close.textContent = '\u00d7';
    header.appendChild(title);
    header.appendChild(close);
    var log = document.createElement('div');
    log.className = 'al-log';
    log.setAttribute('aria-live', 'polite');
    var form = document.createElement('form');
    var input = document.createElement('input');
    input.type = 'text';
    input.maxLength = 500;
    input.placeholder = settings.texts.placeholder;
    input.setAttribute('aria-label', settings.texts.placeholder);
    var send = document.createElement('button');
    send.type = 'submit';
    send.textContent = settings.texts.send;
    form.appendChild(input);
    form.appendChild(send);
    box.appendChild(header);
    box.appendChild(log);
    box.appendChild(form);
    root.appendChild(open);
    root.appendChild(box);
    document.body.appendChild(root);

    function say(text, who, link) {
        var message = document.createElement('div');
        message.className = 'al-msg al-' + who;
        message.textContent = text;
        if (link) {
            var anchor = document.createElement('a');
            anchor.href = link;
            anchor.textContent = ' \u2192';
            message.appendChild(anchor);
        }
        log.appendChild(message);
        log.scrollTop = log.scrollHeight;
    }

    open.addEventListener('click', function () {
        root.classList.add('al-shown');
        input.focus();
    });
    close.addEventListener('click', function () {
        root.classList.remove('al-shown');
    });
    form.addEventListener('submit', function (event) {
        event.preventDefault();
        var question = input.value.trim();
        if (!question) {
            return;
        }
        input.value = '';
        say(question, 'you');
        fetch(settings.url, {
            method: 'POST',
            credentials: 'same-origin',
            headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({question: question})
        }).then(function (response) {
            return response.json();
        }).then(function (reply) {
            var text = reply.answer || reply.error || '';
            if (reply.suggestions && reply.suggestions.length
                    && reply.kind === 'none') {
                text += '\n\u2022 ' + reply.suggestions.join('\n\u2022 ');
            }
            say(text, 'bot', reply.offer_url);
        }).catch(function () {
            say('\u2026', 'bot');
        });
    });
}());
