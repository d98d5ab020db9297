// Makes htmx global before its extensions evaluate (they register on window.htmx).
import htmx from "htmx.org";
window.htmx = htmx;
