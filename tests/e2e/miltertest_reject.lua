-- tests/e2e/miltertest_reject.lua - final_spam_destiny = reject (or
-- discard, with -D destiny=discard): kill-level spam is refused with
-- 550 5.7.1 and the score, or discarded; ham still passes.
dofile(dir .. "/miltertest_lib.lua")
mt.set_timeout(60)

local conn = open_conn()
local r = send_msg(conn, "QIDR1", "sender@sender.test", "rcpt@e2e.test",
    std_headers("offer"), { "XKILLTOKENX cheap offer\r\n" })
if destiny == "discard" then
	tap(r == SMFIR_DISCARD, "kill spam: discarded")
else
	tap(r == SMFIR_REPLYCODE, "kill spam: rejected with a reply code")
	tap(mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1",
	    "Message rejected as spam (score 20.0)"),
	    "kill spam: 550 5.7.1 Message rejected as spam (score 20.0)")
end
r = send_msg(conn, "QIDR2", "sender@sender.test", "rcpt@e2e.test",
    std_headers("hello there"), { "nothing to see\r\n" })
tap(accepted(r), "ham after the " .. (destiny or "reject") ..
    " on the same connection: accepted")
mt.disconnect(conn)
