"""Local fakes of the remote services tocsin talks to: real HTTP servers on 127.0.0.1 that
check what the real service checks and answer in its shapes (``slack``: Slack's Web API, its
``response_url`` and its signed requests to tocsin; ``twilio``: a Twilio-shaped SMS and voice
gateway, its status callbacks and its signed requests to tocsin)."""
