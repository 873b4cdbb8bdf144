# Print the scalars of a YAML document, one a line: PATH<TAB>VALUE. PATH joins the mapping keys and
# sequence indexes (from 0) that lead to the scalar with "/": "ssh_authorized_keys/0",
# "ethernets/eth0/match/macaddress". Written for busybox awk, for the subset cloud-init seeds use:
# block mappings and sequences (a sequence may sit at its key's indentation), flow sequences and
# flow mappings of scalars on one line, plain, 'single' and "double" quoted scalars, also folded
# over several lines, comments and a leading "---". Anything else (block scalars, anchors, nested
# flow collections) is reported on stderr and skipped; the rest of the document is still read.

function warn(message) {
    printf "yaml: line %d: %s\n", NR, message > "/dev/stderr"
}

function trim(text) {
    sub(/^[ \t]+/, "", text)
    sub(/[ \t]+$/, "", text)
    return text
}

function join_path(parent, key) {
    return parent == "" ? key : parent "/" key
}

function emit(path, value) {
    gsub(/[\t\n]/, " ", value)
    print path "\t" value
}

function push(kind, indent, path) {
    depth++
    kinds[depth] = kind
    indents[depth] = indent
    paths[depth] = path
    counts[depth] = 0
}

function strip_comment(text,    at) {
    # A plain scalar ends where " #" starts a comment.
    at = index(text, " #")
    if (at > 0) text = substr(text, 1, at - 1)
    return trim(text)
}

# A flow collection's text without its comment: " #" outside quoted scalars starts one.
function flow_text(text,    i, c, quote, before) {
    quote = ""; before = "["
    for (i = 1; i <= length(text); i++) {
        c = substr(text, i, 1)
        if (quote != "") {
            if ((quote == "'" && c == "'" && substr(text, i + 1, 1) == "'") || (quote == "\"" && c == "\\")) i++
            else if (c == quote) quote = ""
        } else if ((c == "\"" || c == "'") && index("[{,:", before) > 0) {
            quote = c
        } else if (c == "#" && i > 1 && substr(text, i - 1, 1) ~ /[ \t]/) {
            return trim(substr(text, 1, i - 1))
        }
        if (c !~ /[ \t]/) before = c
    }
    return trim(text)
}

# Index of the quote that closes a quoted scalar in text (which starts after the opening quote), or 0.
function closing_quote(text, quote,    i, c) {
    for (i = 1; i <= length(text); i++) {
        c = substr(text, i, 1)
        if (quote == "\"" && c == "\\") { i++; continue }
        if (c != quote) continue
        if (quote == "'" && substr(text, i + 1, 1) == "'") { i++; continue }
        return i
    }
    return 0
}

function unquote(text, quote,    out, i, c, n) {
    if (quote == "'") {
        gsub(/''/, "'", text)
        return text
    }
    out = ""
    for (i = 1; i <= length(text); i++) {
        c = substr(text, i, 1)
        if (c == "\\" && i < length(text)) {
            n = substr(text, ++i, 1)
            if (n == "n" || n == "t") c = " "
            else c = n
        }
        out = out c
    }
    return out
}

# A scalar written on one line (plain or quoted), as its value.
function scalar(text,    quote, closing) {
    text = trim(text)
    quote = substr(text, 1, 1)
    if (quote == "\"" || quote == "'") {
        closing = closing_quote(substr(text, 2), quote)
        if (closing == 0) return substr(text, 2)
        return unquote(substr(text, 2, closing - 1), quote)
    }
    return strip_comment(text)
}

# The items of a one-line flow collection's inside, split at commas outside quotes, into items[];
# their count, or -1 when a collection is nested inside.
function split_flow(inside,    count, i, c, quote, item) {
    count = 0; quote = ""; item = ""
    for (i = 1; i <= length(inside); i++) {
        c = substr(inside, i, 1)
        if (quote != "") {
            if ((quote == "'" && c == "'" && substr(inside, i + 1, 1) == "'") || (quote == "\"" && c == "\\")) {
                item = item c substr(inside, ++i, 1)
                continue
            }
            if (c == quote) quote = ""
            item = item c
        } else if ((c == "\"" || c == "'") && (trim(item) == "" || item ~ /:[ \t]+$/)) {
            # A quote opens a quoted scalar only where a scalar starts: the item's key or its value.
            quote = c; item = item c
        } else if (index("[]{}", c) > 0) {
            return -1
        } else if (c == ",") {
            if (trim(item) != "") items[++count] = trim(item)
            item = ""
        } else item = item c
    }
    if (trim(item) != "") items[++count] = trim(item)
    return count
}

# Length of the key part of a mapping entry ("key: value", "key:", "'key': value"), or 0 if text is no entry.
function key_length(text,    quote, closing, rest, at) {
    quote = substr(text, 1, 1)
    if (quote == "\"" || quote == "'") {
        closing = closing_quote(substr(text, 2), quote)
        if (closing == 0) return 0
        rest = substr(text, closing + 2)
        return rest ~ /^[ \t]*:([ \t]|$)/ ? closing + 1 : 0
    }
    # An indicator character cannot start a plain key ("-" can, when a non-space follows it).
    if (index("?:,[]{}#&*!|>%@`", substr(text, 1, 1)) > 0) return 0
    if (text ~ /^-([ \t]|$)/) return 0
    at = index(text, ": ")
    if (at == 0 && text ~ /:$/) at = length(text)
    if (at == 0) return 0
    if (index(substr(text, 1, at), " #") > 0) return 0
    return at - 1
}

function key_of(text, len,    key) {
    key = trim(substr(text, 1, len))
    if (key ~ /^["']/) key = unquote(substr(key, 2, length(key) - 2), substr(key, 1, 1))
    return key
}

function flush() {
    if (pending == "flow") warn("a flow collection that does not close")
    else if (pending != "") emit(pending_path, pending_value)
    pending = ""
}

# A value after "key:" or "- " at indentation indent, for path.
function value(path, text, indent,    quote, closing, inside, count, i, len) {
    text = trim(text)
    quote = substr(text, 1, 1)
    if (quote == "[" || quote == "{") {
        inside = substr(flow_text(text), 2)
        if (substr(inside, length(inside), 1) != (quote == "[" ? "]" : "}")) {
            # Goes on over the next lines: gather them until the collection closes.
            pending = "flow"
            pending_path = path
            pending_indent = indent
            pending_value = text
            return
        }
        inside = substr(inside, 1, length(inside) - 1)
        count = split_flow(inside)
        if (count < 0) {
            warn("nested flow collections are not supported")
            return
        }
        for (i = 1; i <= count; i++) {
            if (quote == "[") emit(join_path(path, i - 1), scalar(items[i]))
            else if ((len = key_length(items[i] " ")) > 0)
                emit(join_path(path, key_of(items[i], len)), scalar(substr(items[i], len + 2)))
            else if (items[i] ~ /:$/) emit(join_path(path, key_of(items[i], length(items[i]) - 1)), "")
            else warn("a flow mapping item without a key")
        }
        return
    }
    if (quote == "|" || quote == ">") {
        warn("block scalars are not supported")
        skip_deeper_than = indent
        return
    }
    if (quote == "&" || quote == "*") {
        warn("anchors and aliases are not supported")
        return
    }
    if (text ~ /^!!?[a-z]* /) {
        sub(/^!!?[a-z]* +/, "", text)
        quote = substr(text, 1, 1)
    }
    pending_path = path
    pending_indent = indent
    if (quote == "\"" || quote == "'") {
        closing = closing_quote(substr(text, 2), quote)
        if (closing > 0) {
            emit(path, unquote(substr(text, 2, closing - 1), quote))
            return
        }
        pending = quote
        pending_value = substr(text, 2)
        return
    }
    pending = "plain"
    pending_value = strip_comment(text)
}

# A mapping entry at indentation indent, in the collection at the top of the stack.
function entry(text, indent,    len, rest, path) {
    len = key_length(text)
    path = join_path(paths[depth], key_of(text, len))
    rest = trim(substr(text, len + 1))
    sub(/^:/, "", rest)
    rest = trim(rest)
    if (rest == "" || rest ~ /^#/) {
        open_path = path
        open_indent = indent
        opened = 1
        return
    }
    value(path, rest, indent)
}

BEGIN {
    depth = 0; pending = ""; opened = 0; skip_deeper_than = -1; started = 0; finished = 0
}

finished { next }

{
    sub(/\r$/, "")
    line = $0
    match(line, /^ */)
    indent = RLENGTH
    text = substr(line, indent + 1)
}

# The rest of a quoted scalar that goes on over several lines (folded: lines joined by a space).
pending == "\"" || pending == "'" {
    text = trim(text)
    closing = closing_quote(text, pending)
    # A double-quoted line that ends in an escaped line break goes on without a space.
    joint = pending == "\"" && pending_value ~ /(^|[^\\])(\\\\)*\\$/ ? "" : " "
    if (joint == "") pending_value = substr(pending_value, 1, length(pending_value) - 1)
    if (closing == 0) {
        pending_value = pending_value joint text
        next
    }
    emit(pending_path, unquote(trim(pending_value joint substr(text, 1, closing - 1)), pending))
    pending = ""
    next
}

# The rest of a flow collection that goes on over several lines.
pending == "flow" {
    pending_value = pending_value " " trim(text)
    closer = substr(pending_value, 1, 1) == "[" ? "]" : "}"
    if (substr(flow_text(pending_value), length(flow_text(pending_value)), 1) == closer) {
        pending = ""
        value(pending_path, pending_value, pending_indent)
    } else if (indent <= pending_indent && text !~ /^[]}]/) {
        pending = ""
        warn("a flow collection that does not close")
    }
    next
}

text ~ /^[ \t]*$/ || text ~ /^#/ { next }

skip_deeper_than >= 0 {
    if (indent > skip_deeper_than) next
    skip_deeper_than = -1
}

line ~ /^(---|\.\.\.)([ \t]|$)/ {
    if (started) {
        flush()
        finished = 1
    }
    next
}

text ~ /^\t/ {
    warn("tabs do not indent YAML")
    next
}

# A plain scalar folded onto a more indented line that is not an entry of its own.
pending == "plain" && indent > pending_indent && text !~ /^-( |$)/ && key_length(text) == 0 {
    pending_value = pending_value " " strip_comment(text)
    next
}

{
    flush()
    started = 1
    item = text ~ /^-( |$)/
    if (opened) {
        opened = 0
        if (item && indent >= open_indent) push("seq", indent, open_path)
        else if (indent > open_indent) push("map", indent, open_path)
    }
    while (depth > 0 && (indent < indents[depth] || (indent == indents[depth] && kinds[depth] == "seq" && !item)))
        depth--
    if (depth == 0 && text ~ /^[[{]/) {
        # A document that is one flow collection, as JSON is.
        value("", text, indent)
        next
    }
    if (depth == 0) push(item ? "seq" : "map", indent, "")
    if (indent > indents[depth]) {
        warn("unexpected indentation")
        next
    }
    if (!item) {
        if (kinds[depth] != "map" || key_length(text) == 0) {
            warn("expected a \"key: value\" entry")
            next
        }
        entry(text, indent)
        next
    }
    if (kinds[depth] != "seq") {
        warn("a sequence item where a mapping entry belongs")
        next
    }
    item_path = join_path(paths[depth], counts[depth]++)
    rest = substr(text, 2)
    match(rest, /^ */)
    rest_indent = indent + 1 + RLENGTH
    rest = substr(rest, RLENGTH + 1)
    if (rest == "" || rest ~ /^#/) {
        open_path = item_path
        open_indent = indent
        opened = 1
    } else if (rest ~ /^-( |$)/) {
        warn("a sequence directly inside a sequence item is not supported")
    } else if (key_length(rest) > 0) {
        push("map", rest_indent, item_path)
        entry(rest, rest_indent)
    } else {
        value(item_path, rest, indent)
    }
}

END { flush() }
