// The web app's entry: the stylesheet and the router (app.ts).
import './style.css';
import './app';
