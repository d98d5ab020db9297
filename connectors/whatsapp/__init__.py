"""WhatsApp Cloud API: text, template and reply-button messages; webhook signatures."""

from connectors.whatsapp.client import WhatsAppClient, sign_body, signature_valid
from connectors.whatsapp.config import WhatsAppConfig

__all__ = ["WhatsAppClient", "WhatsAppConfig", "sign_body", "signature_valid"]
