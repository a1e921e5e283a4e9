-- tests/e2e/miltertest_abort.lua - the MTA goes away: mid-header and
-- mid-body abrupt disconnects, an aborted transaction followed by a good
-- one on the same connection, and a message with no body at all; the
-- milter keeps serving.
dofile(dir .. "/miltertest_lib.lua")
mt.set_timeout(60)

-- abrupt close after a few headers
local conn = open_conn()
mt.macro(conn, SMFIC_MAIL, "i", "QIDAB1", "{mail_addr}", "a@sender.test")
mt.mailfrom(conn, "<a@sender.test>")
mt.rcptto(conn, "<rcpt@e2e.test>")
mt.header(conn, "From", "a@sender.test")
mt.disconnect(conn, false)

-- abrupt close in the middle of the body
conn = open_conn()
mt.macro(conn, SMFIC_MAIL, "i", "QIDAB2", "{mail_addr}", "a@sender.test")
mt.mailfrom(conn, "<a@sender.test>")
mt.rcptto(conn, "<rcpt@e2e.test>")
mt.header(conn, "Subject", "cut")
mt.eoh(conn)
mt.bodystring(conn, "XKILLTOKENX half a bo")
mt.disconnect(conn, false)

-- abort (RSET) then a complete message on the same connection
conn = open_conn()
mt.macro(conn, SMFIC_MAIL, "i", "QIDAB3", "{mail_addr}", "a@sender.test")
mt.mailfrom(conn, "<a@sender.test>")
mt.rcptto(conn, "<rcpt@e2e.test>")
mt.header(conn, "Subject", "to be aborted")
mt.abort(conn)
local r = send_msg(conn, "QIDAB4", "sender@sender.test", "rcpt@e2e.test",
    std_headers("after abort"), { "XTAGTOKENX\r\n" })
tap(accepted(r), "after an abort: the next message is accepted")
local st = hv(mt.getheader(conn, "X-Spam-Status", 0))
tap(st ~= nil and st:match("T_FD_TAGTOKEN") ~= nil and
    st:match("Subject") == nil,
    "after an abort: scanned on its own (" .. tostring(st) .. ")")

-- headers only, no body chunk at all
r = send_msg(conn, "QIDAB5", "sender@sender.test", "rcpt@e2e.test",
    std_headers("empty body"), {})
tap(accepted(r) and mt.eom_check(conn, MT_HDRADD, "X-Spam-Status"),
    "no body: scanned and tagged")
mt.disconnect(conn)
