set terminal svg size 720,440 dynamic font 'sans,12'
set output '/work/main/reports/throughput.svg'
cd '/work/main/reports/raw/plot'
set grid
set key outside right top
set xlabel 'p (BPs)'
set ylabel 'joins per virtual second'
set title 'Committed joins per second against p (lan, measured)'
plot 'tput.dat' u 1:2 w lp pt 7 t 'committed (better offered rate)', 'tput.dat' u 1:3 w lp dt 2 t 'CPU ceiling', 10000 w l dt 3 t 'target at p = 4'
