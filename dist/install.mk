# dist/install.mk - make install / man / deb (included by the Makefile)
#
#   make install [PREFIX=/usr/local] [DESTDIR=]   binaries, rules, man pages,
#        /etc/filterd/filterd.conf (kept when present), the systemd unit;
#        without DESTDIR, as root: the filterd user and its directories
#   make man        build/man/{filterd.8,filterctl.1,filterd.conf.5}
#   make deb        Debian package (dpkg-buildpackage) into build/deb/
#   make deb-test   build the package, install it, run it, purge it
#                   (not part of make check: it changes the system)

PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR    ?= /lib/systemd/system
SBINDIR    := $(PREFIX)/sbin
BINDIR     := $(PREFIX)/bin
SHAREDIR   := $(PREFIX)/share/filterd
MANDIR     := $(PREFIX)/share/man
INSTALL    ?= install

.PHONY: install install-files man deb deb-test

man: $(BUILD)/man/filterd.8
$(BUILD)/man/filterd.8: dist/mkman.py dist/man/filterd.8.in \
    dist/man/filterctl.1.in dist/man/filterd.conf.5.in filterd/cfg.c \
    filterd/filterctl.c
	python3 dist/mkman.py $(BUILD)/man

install: $(BINS) man
	$(MAKE) --no-print-directory install-files

# install-files - copy what is built; builds nothing (tests/e2e/install.sh)
install-files:
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(SHAREDIR)/rules $(DESTDIR)$(SHAREDIR)/rules-with-sa \
	    $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)/filterd $(DESTDIR)$(UNITDIR)
	$(INSTALL) -m 755 $(BUILD)/filterd $(DESTDIR)$(SBINDIR)/filterd
	$(INSTALL) -m 755 $(BUILD)/filterctl $(DESTDIR)$(BINDIR)/filterctl
	$(INSTALL) -m 644 rules/default/*.cf $(DESTDIR)$(SHAREDIR)/rules/
	$(INSTALL) -m 644 rules/with-sa/*.cf $(DESTDIR)$(SHAREDIR)/rules-with-sa/
	$(INSTALL) -m 644 etc/dnsbl.cf $(DESTDIR)$(SHAREDIR)/dnsbl.cf
	$(INSTALL) -m 644 $(BUILD)/man/filterctl.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 644 $(BUILD)/man/filterd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 644 $(BUILD)/man/filterd.8 $(DESTDIR)$(MANDIR)/man8/
	sed -e 's|@SHAREDIR@|$(SHAREDIR)|g' dist/filterd.conf.in \
	    >$(BUILD)/filterd.conf.dist
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' dist/filterd.service.in \
	    >$(DESTDIR)$(UNITDIR)/filterd.service
	sed -e 's|@BINDIR@|$(BINDIR)|g' dist/filterd-digest.service.in \
	    >$(DESTDIR)$(UNITDIR)/filterd-digest.service
	$(INSTALL) -m 644 dist/filterd-digest.timer $(DESTDIR)$(UNITDIR)/
	chmod 644 $(DESTDIR)$(UNITDIR)/filterd.service \
	    $(DESTDIR)$(UNITDIR)/filterd-digest.service
	@# an admin's config stays; the new sample goes beside it
	if [ -e $(DESTDIR)$(SYSCONFDIR)/filterd/filterd.conf ]; then \
	  $(INSTALL) -m 640 $(BUILD)/filterd.conf.dist \
	    $(DESTDIR)$(SYSCONFDIR)/filterd/filterd.conf.dist; \
	else \
	  $(INSTALL) -m 640 $(BUILD)/filterd.conf.dist \
	    $(DESTDIR)$(SYSCONFDIR)/filterd/filterd.conf; \
	fi
	@# the user and its directories: only for a real install as root
	if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	  getent passwd filterd >/dev/null || useradd --system \
	    --home-dir /var/lib/filterd --no-create-home \
	    --shell /usr/sbin/nologin --user-group filterd; \
	  $(INSTALL) -d -o filterd -g filterd -m 750 /var/lib/filterd \
	    /var/spool/filterd; \
	  chgrp filterd $(SYSCONFDIR)/filterd/filterd.conf; \
	fi

# The package is built in place from the current build dir (incremental;
# dpkg-buildpackage -nc skips the clean); its files land in build/deb/.
deb:
	dpkg-buildpackage -b -nc -uc -us -d
	mkdir -p $(BUILD)/deb
	mv ../filterd_*.deb ../filterd_*.buildinfo ../filterd_*.changes \
	    $(BUILD)/deb/ 2>/dev/null; ls $(BUILD)/deb/*.deb

deb-test: deb
	dist/deb_test.sh $(BUILD)/deb
