set terminal svg size 720,440 dynamic font 'sans,12'
set output '/work/main/reports/response-lan-sync.svg'
cd '/work/main/reports/raw/plot'
set grid
set key outside right top
set xlabel 'p (BPs)'
set ylabel 'µs (virtual)'
set title 'Response time, lan, sync'
plot 'resp_lan_sync.dat' u 1:2 w lp t 'T_k', '' u 1:3 w lp t 'T_e', '' u 1:4 w lp t 'T_a', '' u 1:5 w lp t 'T_r'
