"""Every Chinese sentence that the web side shows to users or API clients, in one place.

Answers about procedures come from Rasa's domain and the actions; these are the channel's and the
web app's own words: fallbacks when the dialogue system cannot answer, and reasons for errors.
"""

SERVICE_UNAVAILABLE = (
    "抱歉，系统暂时繁忙，未能及时答复您的问题。请稍后再试，或拨打12345政务服务便民热线咨询。"
)

# While staff handle the case (Rasa's conversation is paused) the bot stays quiet; every channel says so.
HANDOFF_PAUSED = "您的留言已转给正在处理的工作人员，工作人员会尽快在此回复您。"

EMPTY_MESSAGE = "您好，请输入您想咨询的事项，例如：“食品经营许可证怎么办理？”"

TRUNCATED_MESSAGE = "您的消息较长（共{length}字），我只阅读了前{limit}字。如有多个问题，请分条发送。"

# Reasons for HTTP errors, in the JSON body {"error": "..."}.
ERROR_BODY_NOT_JSON = '请求体必须是 JSON 对象，例如 {"sender": "用户ID", "message": "您的问题"}。'
ERROR_BODY_NOT_OBJECT = "请求体必须是 JSON 对象，而不是数组、字符串或数字。"
ERROR_SENDER_MISSING = "缺少 sender 字段（会话标识，1 至 {max_len} 个字符的字符串）。"
ERROR_SENDER_INVALID = (
    "sender 字段必须是 1 至 {max_len} 个字符的字符串，只能包含英文字母、数字和 _ . : @ - 。"
)
ERROR_MESSAGE_MISSING = "缺少 message 字段（用户消息，字符串）。"
ERROR_MESSAGE_INVALID = "message 字段必须是字符串。"
ERROR_METADATA_INVALID = "metadata 字段必须是 JSON 对象。"
ERROR_INPUT_CHANNEL_INVALID = "input_channel 字段必须是 1 至 {max_len} 个字母、数字、下划线或连字符。"

ERROR_NOT_FOUND = "未找到该地址：{path}"
ERROR_METHOD_NOT_ALLOWED = "该地址不支持 {method} 请求。"
ERROR_BAD_REQUEST = "请求格式不正确。"
ERROR_INTERNAL = "服务器内部错误，请稍后再试。"
ERROR_GENERIC = "请求无法处理（HTTP {status}）。"
