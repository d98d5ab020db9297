"""SMS gateway: SMS.ru or SMSC.ru, chosen by `SmsConfig.provider`."""

from connectors.sms.client import SmscClient, SmsClient, SmsRuClient, SmsSent, make_sms_client
from connectors.sms.config import SmsConfig

__all__ = ["SmsClient", "SmsConfig", "SmsRuClient", "SmsSent", "SmscClient", "make_sms_client"]
