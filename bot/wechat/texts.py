"""Every Chinese sentence the WeChat bridge says itself (answers come from Rasa)."""

GREETING = (
    "您好，欢迎关注！我是菏泽市政务服务智能助手，可以为企业解答政务服务事项的办理材料、流程、时限、"
    "收费和办理部门等问题。请直接输入您的问题，例如：“食品经营许可证怎么办理？”"
)

PLEASE_TYPE = (
    "抱歉，我暂时只能阅读文字消息。请用文字输入您想咨询的问题，例如：“营业执照变更法人要带什么材料？”"
)

VOICE_NOT_RECOGNISED = "抱歉，没能识别这条语音。请用文字输入您想咨询的问题。"

OPTIONS_HEADER = "回复数字选择："

# Staff replies through the customer-service API carry the staff member's identity (三亮).
STAFF_REPLY = "【{department} {name}（工号{number}）回复】\n{text}"
STAFF_REPLY_NO_NUMBER = "【{department} {name}回复】\n{text}"

# Reasons for HTTP errors of /wechat, in the JSON body {"error": "..."}.
ERROR_NOT_CONFIGURED = "微信公众号接入未配置（WECHAT_TOKEN 为空），请联系管理员。"
ERROR_BAD_SIGNATURE = "签名校验失败。"
ERROR_MISSING_PARAMS = "缺少签名参数（signature、timestamp、nonce）。"
ERROR_BODY_TOO_LARGE = "请求体过大（超过 {limit} KB）。"
ERROR_BAD_XML = "请求体不是有效的微信消息 XML。"
ERROR_FORBIDDEN_XML = "请求体包含不允许的 XML 结构（DTD、实体或外部引用）。"
ERROR_NO_AES_KEY = "收到安全模式（加密）消息，但未配置 WECHAT_AES_KEY。"
ERROR_DECRYPT = "消息解密失败。"

# Why a staff reply did not reach a WeChat user: stored on the ticket message, shown to staff.
FAILED_WINDOW_CLOSED = (
    "用户已超过48小时未与公众号互动，微信不允许再主动发送消息（errcode 45015）。"
    "请通过企业留下的联系电话联系。"
)
FAILED_API_ERROR = "微信接口拒绝发送（errcode {errcode}：{errmsg}）。"
FAILED_UNREACHABLE = "未能连接微信接口：{errmsg}"
FAILED_NOT_CONFIGURED = "未配置 WECHAT_APPID / WECHAT_APP_SECRET，无法通过微信发送。"
FAILED_NOT_WECHAT = "该会话不是微信会话（{conversation}），无法通过微信发送。"
FAILED_PARTLY = "（前 {sent} 段已送达，共 {total} 段）"
