-- tests/e2e/miltertest_headers.lua - header and body paths: ham gets the
-- X-Spam-* headers (No), tag2-level spam gets X-Spam-Flag: YES and the
-- subject tag, forged X-Spam-* headers are deleted, a body in many chunks
-- is scanned whole (the token straddles two chunks), two messages on one
-- connection are scanned independently.
dofile(dir .. "/miltertest_lib.lua")
mt.set_timeout(60)

local conn = open_conn()
local r = send_msg(conn, "QIDHAM1", "sender@sender.test", "rcpt@e2e.test",
    std_headers("lunch on friday"), { "Hello,\r\nshall we meet?\r\n" })
tap(accepted(r), "ham: accepted at end of message")
tap(mt.eom_check(conn, MT_HDRADD, "X-Spam-Status"),
    "ham: X-Spam-Status added")
local st = hv(mt.getheader(conn, "X-Spam-Status", 0))
tap(st ~= nil and st:match("^No, score=") ~= nil,
    "ham: X-Spam-Status says No (" .. tostring(st) .. ")")
tap(not mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag"), "ham: no X-Spam-Flag")
tap(not mt.eom_check(conn, MT_HDRCHANGE, "Subject"),
    "ham: Subject untouched")

-- second message on the same connection: tag2-level spam whose token is
-- split over two body chunks, with a forged X-Spam-Flag: NO
r = send_msg(conn, "QIDTAG1", "sender@sender.test", "rcpt@e2e.test",
    std_headers("maybe", { "X-Spam-Flag", "NO" }),
    { "Hello,\r\nthis is XTAG", "TOKENX here\r\n", "bye\r\n" })
tap(accepted(r), "tag2 spam: accepted (final_spam_destiny applies at kill_level only)")
tap(mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", lead .. "YES"),
    "tag2 spam: X-Spam-Flag: YES added")
tap(mt.eom_check(conn, MT_HDRCHANGE, "Subject", lead .. "***SPAM*** maybe"),
    "tag2 spam: Subject tagged")
tap(mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Flag"),
    "tag2 spam: the forged X-Spam-Flag deleted")
st = hv(mt.getheader(conn, "X-Spam-Status", 0))
tap(st ~= nil and st:match("T_FD_TAGTOKEN") ~= nil,
    "tag2 spam: token across body chunks found (" .. tostring(st) .. ")")
local sc = hv(mt.getheader(conn, "X-Spam-Score", 0))
tap(sc ~= nil and tonumber(sc) ~= nil and tonumber(sc) >= 5.0,
    "tag2 spam: X-Spam-Score " .. tostring(sc))
mt.disconnect(conn)

-- An MTA that does not offer SMFIP_HDR_LEADSPC: it strips the space, so
-- filterd adds it back when it rebuilds the message, and sends the values
-- of its own headers without one.
conn = open_conn(true)
r = send_msg(conn, "QIDTAG2", "sender@sender.test", "rcpt@e2e.test",
    std_headers("maybe"), { "Hello,\r\nthis is XTAGTOKENX here\r\n" })
tap(mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", "YES"),
    "no LEADSPC: X-Spam-Flag: YES added without a leading space")
tap(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "***SPAM*** maybe"),
    "no LEADSPC: Subject tagged without a leading space")
st = mt.getheader(conn, "X-Spam-Status", 0)
tap(st ~= nil and st:match("^Yes, score=") ~= nil,
    "no LEADSPC: X-Spam-Status " .. tostring(st))
mt.disconnect(conn)
