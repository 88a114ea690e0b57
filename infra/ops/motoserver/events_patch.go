package motoserver

// eventsPatches make moto's EventBridge deliver what AWS delivers where the
// difference would reach the code under test.
//
// A rule target without an input transformer receives the whole event, and
// every event carries "account", the 12-digit ID of the account it was put
// in (https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html).
// moto 5.2 delivers such an event through a default input template that
// leaves "account" out (moto/events/utils.py,
// EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE), so a push event reached
// the scan function with an empty account and was rejected. The patch adds
// the field, filled from the event as moto's own paths map already reads it.
const eventsPatches = `
def _ecrscan_events():
    from moto.events.utils import EventTemplateParser as p
    t = p.DEFAULT_EVENT_INPUT_TEMPLATE
    if '"account"' not in t:
        p.DEFAULT_EVENT_INPUT_TEMPLATE = t.replace('"version": "0",', '"version": "0", "account": "<account>",', 1)
    if '"account"' not in p.DEFAULT_EVENT_INPUT_TEMPLATE:
        raise RuntimeError("moto's default event template changed; the account patch does not apply")
try:
    _ecrscan_events()
except Exception as e:
    print("moto events patch not loaded:", e, file=sys.stderr)
`
