"""zzap.ru seller orders, polled per account (one account = one shop on zzap)."""

from connectors.zzap.client import ZzapClient, zzap_accounts
from connectors.zzap.config import ZzapAccount, ZzapConfig

__all__ = ["ZzapAccount", "ZzapClient", "ZzapConfig", "zzap_accounts"]
