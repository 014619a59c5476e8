"""The WeChat Official Account bridge: WeChat's callback on one side, Rasa's REST channel on the other.

`bot/routes/wechat.py` checks signatures, decrypts and parses; `bridge.py` decides what to say and
when (passively within WeChat's 5 s, or later through the customer-service API); `dedupe.py` makes a
retried message one Rasa turn; `formatting.py` fits Rasa's replies into WeChat text messages;
`client.py` wraps wechatpy's synchronous API client; `delivery.py` carries staff replies.
See docs/wechat.md.
"""
