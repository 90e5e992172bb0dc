set terminal svg size 720,440 dynamic font 'sans,12'
set output '/work/main/reports/storage-vs-n.svg'
cd '/work/main/reports/raw/plot'
set grid
set key outside right top
set logscale xy
set xlabel 'n (nodes)'
set ylabel 'keys per device'
set title 'Device storage'
plot 'storage_p1.dat' u 1:3 w lp pt 7 t 'measured, p = 1', 'storage_p16.dat' u 1:3 w lp pt 5 t 'measured, p = 16', 'storage_p1.dat' u 1:4 w l dt 2 t '2*sqrt(n)'
