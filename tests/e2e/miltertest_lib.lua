-- tests/e2e/miltertest_lib.lua - helpers for the miltertest_*.lua scripts
-- (loaded with dofile; the driver passes -D sock=... -D dir=...).
-- tap(cond, desc) prints "ok - desc" / "not ok - desc"; miltertest.sh
-- numbers them.

function tap(cond, desc)
	if cond then
		mt.echo("ok - " .. desc)
	else
		mt.echo("not ok - " .. desc)
	end
end

-- open_conn - connect, conninfo with {client_addr}/{client_name}, HELO
function open_conn()
	local conn = mt.connect(sock, 40, 0.25)
	if conn == nil then
		error("cannot connect to " .. sock)
	end
	mt.macro(conn, SMFIC_CONNECT, "{client_addr}", "192.0.2.10",
	    "{client_name}", "mx.sender.test")
	if mt.conninfo(conn, "mx.sender.test", "192.0.2.10") ~= nil then
		error("conninfo failed")
	end
	if mt.getreply(conn) ~= SMFIR_CONTINUE then
		error("conninfo: unexpected reply")
	end
	if mt.helo(conn, "mx.sender.test") ~= nil then
		error("helo failed")
	end
	return conn
end

-- send_msg - one transaction; headers = { name, value, name, value ... },
-- body = list of chunks; returns the end-of-message reply
function send_msg(conn, qid, from, rcpt, headers, body)
	mt.macro(conn, SMFIC_MAIL, "i", qid, "{mail_addr}", from,
	    "{auth_authen}", "")
	if mt.mailfrom(conn, "<" .. from .. ">") ~= nil then
		error("mailfrom failed")
	end
	mt.macro(conn, SMFIC_RCPT, "{rcpt_addr}", rcpt)
	if mt.rcptto(conn, "<" .. rcpt .. ">") ~= nil then
		error("rcptto failed")
	end
	for i = 1, #headers, 2 do
		if mt.header(conn, headers[i], headers[i + 1]) ~= nil then
			error("header failed")
		end
	end
	if mt.eoh(conn) ~= nil then
		error("eoh failed")
	end
	for _, chunk in ipairs(body) do
		if mt.bodystring(conn, chunk) ~= nil then
			error("body failed")
		end
	end
	if mt.eom(conn) ~= nil then
		error("eom failed")
	end
	return mt.getreply(conn)
end

function std_headers(subject, extra)
	local h = { "Received", "from mx.sender.test (mx.sender.test " ..
	    "[192.0.2.10])\n\tby mx.e2e.test with ESMTP id 4AbCdE; " ..
	    "Fri, 27 Nov 2026 12:00:00 +0000",
	    "From", "Sender <sender@sender.test>",
	    "To", "rcpt@e2e.test",
	    "Subject", subject,
	    "Message-Id", "<" .. subject:gsub("%W", "") .. "@sender.test>",
	    "Date", "Fri, 27 Nov 2026 12:00:00 +0000" }
	for _, v in ipairs(extra or {}) do
		h[#h + 1] = v
	end
	return h
end

function accepted(r)
	return r == SMFIR_ACCEPT or r == SMFIR_CONTINUE
end
