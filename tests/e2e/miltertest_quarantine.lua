-- tests/e2e/miltertest_quarantine.lua - final_spam_destiny = quarantine:
-- kill-level spam is quarantined (smfi_quarantine; Postfix: hold queue)
-- with the headers added; tag2-level spam is only tagged.
dofile(dir .. "/miltertest_lib.lua")
mt.set_timeout(60)

local conn = open_conn()
local r = send_msg(conn, "QIDQ1", "sender@sender.test", "rcpt@e2e.test",
    std_headers("offer"), { "XKILLTOKENX cheap offer\r\n" })
tap(accepted(r), "kill spam: accepted into quarantine")
tap(mt.eom_check(conn, MT_QUARANTINE), "kill spam: quarantine requested")
tap(mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", lead .. "YES"),
    "kill spam: X-Spam-Flag: YES added")
r = send_msg(conn, "QIDQ2", "sender@sender.test", "rcpt@e2e.test",
    std_headers("maybe"), { "XTAGTOKENX\r\n" })
tap(accepted(r) and not mt.eom_check(conn, MT_QUARANTINE),
    "tag2 spam: not quarantined")
mt.disconnect(conn)
