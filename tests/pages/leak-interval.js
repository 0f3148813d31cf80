'use strict';
(function () {
  var h = React.createElement;
  var params = new URLSearchParams(location.search);
  var variant = params.get('variant') || 'bug';

  function pollCredits() {
    fetch('/api/video/status?operationName=credits-1').then(function (r) { return r.json(); }).catch(function () {});
  }

  function Credits() {
    React.useEffect(function () {
      var interval = setInterval(pollCredits, 3000);
      if (variant === 'fixed') {
        return function () { clearInterval(interval); };
      }
      return undefined;
    }, []);
    return h('p', null, 'Waiting for credits');
  }

  function Home() {
    return h('p', null, 'Home');
  }

  // The routes are real paths (/credits, /home), changed with the History
  // API only; the server is never asked for them.
  history.replaceState(null, '', '/credits' + location.search);

  function App() {
    var state = React.useState('credits');
    var route = state[0];
    var setRoute = state[1];
    function go(next) {
      return function (event) {
        event.preventDefault();
        history.pushState(null, '', '/' + next + location.search);
        setRoute(next);
      };
    }
    return h('div', null,
      h('nav', null,
        h('a', { id: 'link-credits', href: '/credits', onClick: go('credits') }, 'Credits'), ' ',
        h('a', { id: 'link-home', href: '/home', onClick: go('home') }, 'Home')),
      route === 'credits' ? h(Credits) : h(Home));
  }

  ReactDOM.createRoot(document.getElementById('root')).render(h(App));
})();
