#!/usr/bin/perl
# tests/e2e/sa_compare.pl - compare mail/'s views with SpamAssassin 4's
#
#   tests/e2e/sa_compare.pl [-n 200] [-v] [-d DIFFDIR] [PARSE_BIN]
#
# Takes N messages spread evenly over corpus/data/{easy-ham-1,hard-ham-1,
# spam-1}, dumps our views with `PARSE_BIN -d` (build/bench/parse) and asks
# Mail::SpamAssassin (Debian package spamassassin) for the same message:
#   body   get_decoded_stripped_body_text_array  (lines compared exactly)
#   uri    get_uri_detail_list hosts             (set of hosts compared)
#   relay  relays_external ip list               (list compared in order)
#   body_cs  body, SA's undecoded 8-bit lines read as windows-1252
#   relay_full  external relays as ip/rdns/helo/by
# Prints agreement per view; with -v the differing messages; with -d the
# two sides of every difference as files. Not run by make check (SA takes
# a few seconds to load); tests/e2e/sa_compare.sh wraps it with a floor.
use strict;
use warnings;
use Getopt::Std;
use Mail::SpamAssassin;
use Mail::SpamAssassin::PerMsgStatus;
use Encode ();

my %o = (n => 200);
getopts('n:vd:', \%o);
my $bin = shift // 'build/bench/parse';
my @groups = qw(easy-ham-1 hard-ham-1 spam-1);
my @all;
for my $g (@groups) {
	opendir(my $d, "corpus/data/$g") or die "corpus/data/$g: $!\n";
	push @all, map { "corpus/data/$g/$_" } sort grep { !/^\./ } readdir $d;
	closedir $d;
}
my $step = @all / $o{n};
my @files = map { $all[int($_ * $step)] } 0 .. $o{n} - 1;

# our side
my %ours;
{
	open(my $p, '-|', $bin, '-d', @files) or die "$bin: $!\n";
	my $cur;
	while (my $l = <$p>) {
		chomp $l;
		if ($l =~ /^=== (.*)/) { $cur = $ours{$1} = { B => [], H => {}, R => [], RF => [] }; next }
		my ($k, $v) = ($l =~ /^(\w) ?(.*)$/s) or next;
		$v =~ s/\\(n|\\)/$1 eq 'n' ? "\n" : "\\"/ge;
		if ($k eq 'B') { push @{$cur->{B}}, $v }
		elsif ($k eq 'R' && $v =~ /^(\S+) ext (.*)$/) {
			push @{$cur->{R}}, $1;
			push @{$cur->{RF}}, join('/', $1, split / /, $2, 3);
			next;
		}
		elsif ($k eq 'H') { $cur->{H}{$v} = 1 }
		elsif ($k eq 'R') {
			my ($ip, $class) = split / /, $v;
			push @{$cur->{R}}, $ip if $class eq 'ext';
		}
	}
	close $p;
}

my $sa = Mail::SpamAssassin->new({
	local_tests_only => 1, dont_copy_prefs => 1,
	userprefs_filename => '/dev/null', home_dir_for_helpers => '/tmp',
	post_config_text => "normalize_charset 1\n",
});
$sa->init(0);

# SA keeps undecodable 8-bit text as raw octets; our views are always
# UTF-8 (windows-1252 fallback). body_cs counts a message as agreeing when
# SA's lines, so decoded, equal ours.
sub cs_norm {
	my $l = shift;
	my $c = $l;
	return $l if utf8::decode($c);
	return Encode::encode('UTF-8', Encode::decode('cp1252', $l));
}

my %agree = (body => 0, body_cs => 0, uri => 0, relay => 0,
    relay_full => 0);
my %diffs = (body => [], body_cs => [], uri => [], relay => [],
    relay_full => []);
mkdir $o{d} if $o{d};
for my $f (@files) {
	open(my $fh, '<:raw', $f) or die "$f: $!\n";
	my $text = do { local $/; <$fh> };
	close $fh;
	my $mail = $sa->parse($text, 1);
	my $pms = Mail::SpamAssassin::PerMsgStatus->new($sa, $mail);
	$pms->extract_message_metadata();
	my @body = map { my $x = $_; $x =~ s/\n\z//; $x }
	    @{$pms->get_decoded_stripped_body_text_array()};
	my %hosts;
	my $det = $pms->get_uri_detail_list();
	for my $u (keys %$det) {
		$hosts{lc $_} = 1 for keys %{$det->{$u}{hosts} || {}};
	}
	my @rel = map { $_->{ip} } @{$pms->{relays_external} || []};
	my @relf = map { join('/', map { $_ // '' } @$_{qw(ip rdns helo by)}) }
	    @{$pms->{relays_external} || []};
	my $me = $ours{$f} or die "no dump for $f\n";
	my $bo = join("\n", @{$me->{B}});
	my $bs = join("\n", @body);
	my $hu = join(' ', sort keys %{$me->{H}});
	my $hs = join(' ', sort keys %hosts);
	my $bsn = join("\n", map { cs_norm($_) } @body);
	my $ro = join(' ', @{$me->{R}});
	my $rs = join(' ', @rel);
	my $rfo = join(' ', @{$me->{RF}});
	my $rfs = join(' ', @relf);
	for ([body => $bo, $bs], [body_cs => $bo, $bsn], [uri => $hu, $hs],
	    [relay => $ro, $rs], [relay_full => $rfo, $rfs]) {
		my ($view, $a, $b) = @$_;
		if ($a eq $b) { $agree{$view}++; next }
		push @{$diffs{$view}}, $f;
		if ($o{d}) {
			(my $n = $f) =~ s{.*/}{};
			for (["ours", $a], ["sa", $b]) {
				open(my $w, '>:raw', "$o{d}/$n.$view.$_->[0]");
				print $w $_->[1], "\n";
				close $w;
			}
		}
	}
	$pms->finish();
	$mail->finish();
}
my $n = @files;
for my $v (qw(body body_cs uri relay relay_full)) {
	printf "%-10s %d/%d agree (%.1f%%)\n", $v, $agree{$v}, $n,
	    100 * $agree{$v} / $n;
	if ($o{v}) { print "  differs: $_\n" for @{$diffs{$v}} }
}
