// htmx and its Server-Sent Events extension for the templates (import order matters).
import "./htmx-global.js";
import "htmx-ext-sse";
