set terminal svg size 720,440 dynamic font 'sans,12'
set output '/work/main/reports/fig4-rate-vs-p.svg'
cd '/work/main/reports/raw/plot'
set grid
set key outside right top
set xlabel 'p (BPs)'
set ylabel 'rate of deciphered links'
set title 'Fig. 4: one captured BP (n = 10000)'
set yrange [0:1.05]
plot 'fig4.dat' u 1:2 w lp pt 7 t 'measured, owned', 'fig4.dat' u 1:3 w lp pt 5 t 'measured, global', 'fig4.dat' u 1:4 w l dt 2 lw 2 t 'Prop. 3', 'fig4.dat' u 1:7 w l dt 3 t '(2p-1)/p^2 (n -> inf)', 'fig4.dat' u 1:5 w lp pt 9 t 'one node, owned', 'fig4.dat' u 1:6 w l dt 4 t 'Prop. 1'
