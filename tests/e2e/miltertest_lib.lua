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

-- Header values. miltertest offers SMFIP_HDR_LEADSPC (0x100000) and
-- filterd takes it, as with Postfix: miltertest then puts the space after
-- the colon in front of what mt.header() sends, and the values filterd
-- adds or changes must carry it too (they come back with it: hv() and
-- lead). open_conn(true) negotiates without LEADSPC (an MTA before
-- sendmail 8.14; miltertest maps its arguments its own way, what counts
-- is that filterd sees no LEADSPC): values come and go without the space.
LEADSPC = 0x100000
lead = " "

-- hv - a header value as filterd handed it back, the leading SP off
function hv(v)
	if v ~= nil and lead == " " and v:sub(1, 1) == " " then
		return v:sub(2)
	end
	return v
end

-- open_conn - connect, conninfo with {client_addr}/{client_name}, HELO
function open_conn(no_leadspc)
	local conn = mt.connect(sock, 40, 0.25)
	if conn == nil then
		error("cannot connect to " .. sock)
	end
	lead = " "
	if no_leadspc then
		if mt.negotiate(conn, 6, 0x1ff, 0x1fffff - LEADSPC) ~= nil then
			error("negotiate failed")
		end
		lead = ""
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
